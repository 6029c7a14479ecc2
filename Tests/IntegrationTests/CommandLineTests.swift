import Foundation
import Testing

/// Both tools parse a subcommand named first on its own (CommandMain skips ArgumentParser's completion-script
/// parsers that way); what users see must not depend on which path a command took.
@Suite struct CommandLineTests {
    static let certtoolCommands = ["init", "issue", "sign", "revoke", "crl", "list", "show", "verify", "token", "serve"]
    static let sidecarCommands = ["serve", "certs", "front", "poll"]

    /// `tool CMD --help` (parsed by CMD alone) reads exactly as `tool help CMD` (parsed from the root), usage
    /// line included; a usage error is one line naming the tool, exit status 2.
    @Test(arguments: certtoolCommands.map { (Workspace.certtoolPath, "certtool", $0) }
            + sidecarCommands.map { (Workspace.sidecarPath, "scrape-sidecar", $0) })
    func subcommandHelpReadsAsFromTheRoot(tool: String, name: String, command: String) throws {
        let direct = try Command.run(tool, [command, "--help"])
        let fromRoot = try Command.run(tool, ["help", command])
        #expect(direct.status == 0 && fromRoot.status == 0, "\(direct.output)\(fromRoot.output)")
        #expect(direct.stdout == fromRoot.stdout)
        #expect(direct.stdout.contains("USAGE: \(name) \(command)"), "\(direct.stdout)")

        let misused = try Command.run(tool, [command, "--no-such-option"])
        #expect(misused.status == 2)
        #expect(misused.stderr.hasPrefix("\(name): error: ") && misused.stderr.filter { $0 == "\n" }.count == 1, "\(misused.stderr)")
    }

    /// Completion scripts still come from the root command.
    @Test func completionScriptsComeFromTheRoot() throws {
        let script = try Command.run(Workspace.certtoolPath, ["--generate-completion-script", "bash"])
        #expect(script.status == 0, "\(script.stderr)")
        #expect(script.stdout.contains("issue") && script.stdout.contains("--san"), "\(script.stdout.prefix(400))")
    }
}
