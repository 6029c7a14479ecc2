import ArgumentParser
import Foundation
import MeshCA

@main
struct CertTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certtool",
        abstract: "A small certificate authority for mutually authenticated Prometheus scrapes.",
        subcommands: [
            InitCommand.self, IssueCommand.self, SignCommand.self, RevokeCommand.self, CRLCommand.self,
            ListCommand.self, ShowCommand.self, VerifyCommand.self,
        ])

    /// ArgumentParser exits 64 on usage errors and prints the whole help; we print one line and exit 2.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as MeshCAError {
            fail(error.description, status: error.exitStatus)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail(message.replacingOccurrences(of: "Error: ", with: ""), status: 2)
        }
    }

    static func fail(_ message: String, status: Int32) -> Never {
        FileHandle.standardError.write(Data("certtool: error: \(message)\n".utf8))
        Foundation.exit(status)
    }
}
