import ArgumentParser
import Dispatch
import MeshCA
import MeshPlatform

/// The entry point both executables share: ArgumentParser exits 64 on usage errors and prints the whole help;
/// we print one `tool: error: …` line and exit 2 (1 for runtime failures), as DEVELOPERS.md asks.
public enum CommandMain {
    /// Parses on the calling thread — the real main thread, whose signal mask `ProcessSignals.install` set —
    /// and runs a synchronous command right there, so one-shot commands start no concurrency threads. An
    /// async command runs in a task while this thread parks on a semaphore (not `dispatchMain()`, which clears
    /// the signal mask on Linux). Never returns: the process exits with the command's status.
    ///
    /// A subcommand named first is parsed as a root of its own: ArgumentParser then skips the two extra parsers
    /// it builds to look for `--generate-completion-script` (a third of a one-shot command's start-up, mostly
    /// run-time conformance scans). Subcommands set `_superCommandName` to the tool's name, so that their usage
    /// and help read as they do when reached through the root; completion scripts stay on the root command.
    public static func main<Root: ParsableCommand>(_ root: Root.Type, name: String) -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let subcommand = arguments.first.flatMap { first in root.configuration.subcommands.first { $0._commandName == first } }
        let parser: ParsableCommand.Type = subcommand ?? root
        let command: ParsableCommand
        do {
            command = try subcommand?.parseAsRoot(Array(arguments.dropFirst())) ?? root.parseAsRoot(arguments)
        } catch {
            fail(parser, name, error)
        }
        guard let asyncCommand = command as? AsyncParsableCommand else {
            var command = command
            do { try command.run() } catch { fail(parser, name, error) }
            exit(0)
        }
        let task = UncheckedCommand(command: asyncCommand)
        Task.detached {
            var command = task.command
            do { try await command.run() } catch { fail(parser, name, error) }
            exit(0)
        }
        DispatchSemaphore(value: 0).wait()
        fatalError("unreachable: the command's task exits the process")
    }

    /// A parsed command handed once to the task that runs it.
    private struct UncheckedCommand: @unchecked Sendable {
        let command: AsyncParsableCommand
    }

    private static func fail(_ root: ParsableCommand.Type, _ name: String, _ error: any Error) -> Never {
        switch error {
        case let error as MeshCAError:
            fail(name, error.description, status: error.exitStatus)
        case let code as ExitCode:
            exit(code.rawValue)
        default:
            if root.exitCode(for: error) == .success {
                print(root.fullMessage(for: error))
                exit(0)
            }
            let message = root.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail(name, message.replacing("Error: ", with: ""), status: 2)
        }
    }

    public static func fail(_ name: String, _ message: String, status: Int32) -> Never {
        // The log lines' writer: one write(2) under their lock, so the error line never lands inside a log line.
        JSONLogHandler.standardError(Array("\(name): error: \(message)\n".utf8))
        exit(status)
    }
}
