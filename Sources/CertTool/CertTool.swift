import ArgumentParser
import Foundation
import CommandLineSupport
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

    static func main() async { await CommandMain.run(CertTool.self, name: "certtool") }
}
