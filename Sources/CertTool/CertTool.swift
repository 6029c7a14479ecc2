import ArgumentParser
import CommandLineSupport
import MeshCA
import MeshPlatform

struct CertTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certtool",
        abstract: "A small certificate authority for mutually authenticated Prometheus scrapes.",
        subcommands: [
            InitCommand.self, IssueCommand.self, SignCommand.self, RevokeCommand.self, CRLCommand.self,
            ListCommand.self, ShowCommand.self, VerifyCommand.self, TokenCommand.self, ServeCommand.self,
        ])
}

/// `serve` needs the signal mask set on the real main thread before any other thread exists (see
/// `ProcessSignals`); the one-shot commands skip that thread so they start as fast as they can.
@main
enum Entry {
    static func main() {
        if CommandLine.arguments.dropFirst().first == "serve" { ProcessSignals.install() }
        CommandMain.main(CertTool.self, name: "certtool")
    }
}
