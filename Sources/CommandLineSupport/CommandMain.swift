import ArgumentParser
import Dispatch
import Foundation
import MeshCA

/// The entry point both executables share: ArgumentParser exits 64 on usage errors and prints the whole help;
/// we print one `tool: error: …` line and exit 2 (1 for runtime failures), as DEVELOPERS.md asks.
public enum CommandMain {
    /// Parses on the calling thread — the real main thread, whose signal mask `ProcessSignals.install` set —
    /// and runs a synchronous command right there, so one-shot commands start no concurrency threads. An
    /// async command runs in a task while this thread parks on a semaphore (not `dispatchMain()`, which clears
    /// the signal mask on Linux). Never returns: the process exits with the command's status.
    public static func main<Root: ParsableCommand>(_ root: Root.Type, name: String) -> Never {
        let command: ParsableCommand
        do {
            command = try root.parseAsRoot()
        } catch {
            fail(root, name, error)
        }
        guard let asyncCommand = command as? AsyncParsableCommand else {
            var command = command
            do { try command.run() } catch { fail(root, name, error) }
            Foundation.exit(0)
        }
        let task = UncheckedCommand(command: asyncCommand)
        Task.detached {
            var command = task.command
            do { try await command.run() } catch { fail(root, name, error) }
            Foundation.exit(0)
        }
        DispatchSemaphore(value: 0).wait()
        fatalError("unreachable: the command's task exits the process")
    }

    /// A parsed command handed once to the task that runs it.
    private struct UncheckedCommand: @unchecked Sendable {
        let command: AsyncParsableCommand
    }

    private static func fail<Root: ParsableCommand>(_ root: Root.Type, _ name: String, _ error: any Error) -> Never {
        switch error {
        case let error as MeshCAError:
            fail(name, error.description, status: error.exitStatus)
        case let code as ExitCode:
            Foundation.exit(code.rawValue)
        default:
            if root.exitCode(for: error) == .success {
                print(root.fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = root.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail(name, message.replacingOccurrences(of: "Error: ", with: ""), status: 2)
        }
    }

    public static func fail(_ name: String, _ message: String, status: Int32) -> Never {
        FileHandle.standardError.write(Data("\(name): error: \(message)\n".utf8))
        Foundation.exit(status)
    }
}
