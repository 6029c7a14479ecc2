import ArgumentParser
import Foundation
import MeshCA

/// The entry point both executables share: ArgumentParser exits 64 on usage errors and prints the whole help;
/// we print one `tool: error: …` line and exit 2 (1 for runtime failures), as DEVELOPERS.md asks.
public enum CommandMain {
    public static func run<Root: ParsableCommand>(_ root: Root.Type, name: String) async -> Never {
        do {
            var command = try root.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let error as MeshCAError {
            fail(name, error.description, status: error.exitStatus)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
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
