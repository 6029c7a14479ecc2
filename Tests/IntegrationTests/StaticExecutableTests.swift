import Foundation
import Testing

/// The binaries as we ship them on Linux (`release_build` in scripts/lib/peers.sh: fully static executables)
/// run in an empty root — no libc, no libcrypto, no dynamic loader, as in a `FROM scratch` image — with an
/// encrypted CA key, enrollment under a name only DNS resolves, and a scrape through the enrolled sidecar
/// (Fixtures/empty_root.py, in network and mount namespaces of its own; needs root, as CI runs).
@Suite struct StaticExecutableTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/empty_root.py").path

    /// Builds the shipped binaries (a no-op when they are up to date) and returns their directory.
    static func buildShipped() throws -> String {
        let build = "source scripts/lib/peers.sh && \"${release_build[@]}\" >&2 && \"${release_build[@]}\" --show-bin-path"
        let result = try Command.run("bash", ["-c", build], directory: packageRoot)
        #expect(result.status == 0, "\(result.stderr.suffix(4000))")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(.timeLimit(.minutes(30))) func shippedBinariesRunInAnEmptyRoot() throws {
        let bin = try Self.buildShipped()
        let ws = try Workspace()
        let result = try Command.run("unshare", [
            "--net", "--mount", "--fork", "python3", Self.script, "\(bin)/certtool", "\(bin)/scrape-sidecar", ws.url.path,
        ])
        let facts = Dictionary(
            result.stdout.split(separator: "\n").compactMap { line -> (String, String)? in
                guard let space = line.lastIndex(of: " ") else { return nil }
                return (String(line[..<space]), String(line[line.index(after: space)...]))
            }, uniquingKeysWith: { first, _ in first })
        #expect(result.status == 0, "\(result.output)")
        #expect(facts["interpreter certtool"] == "None" && facts["interpreter scrape-sidecar"] == "None", "\(result.output)")
        #expect(facts["encrypted_ca_key"] == "True", "\(result.output)")
        #expect(Int(facts["issue_syncfs"] ?? "") ?? 0 >= 1, "\(result.output)")
        #expect(Int(facts["issue_fallocate"] ?? "") ?? 0 >= 1, "\(result.output)")
        #expect(facts["issue_serial_getrandom"] == "1", "\(result.output)")
        #expect(Int(facts["dns_answers"] ?? "") ?? 0 >= 1, "the CA's name came from DNS: \(result.output)")
        #expect(result.stdout.contains("enrolled cert-chain.pem key.pem root-cert.pem\n"), "\(result.output)")
        #expect(facts["scrape_status"] == "200" && facts["scrape_body_matches"] == "True", "\(result.output)")
    }
}
