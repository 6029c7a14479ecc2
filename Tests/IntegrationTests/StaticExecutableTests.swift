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

    /// The release link packs the functions the binaries run (scripts/lib/text-order.txt, hottest first) instead
    /// of scattering them over the whole of .text, where fault-around kept 64 KiB resident around each one; the
    /// ones without a symbol go together in front of them.
    @Test(.timeLimit(.minutes(30))) func functionsTheSidecarRunsAreLaidOutTogether() throws {
        let bin = try Self.buildShipped()
        let listed = try String(contentsOf: Self.packageRoot.appendingPathComponent("scripts/lib/text-order.txt"),
                                encoding: .utf8).split(separator: "\n").prefix(3000).map(String.init)
        let nm = try Command.run("nm", ["--defined-only", "\(bin)/scrape-sidecar"])
        #expect(nm.status == 0, "\(nm.stderr)")
        var address: [String: UInt64] = [:]
        var code: [UInt64] = []
        for line in nm.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, "tTwW".contains(fields[1]), let value = UInt64(fields[0], radix: 16) else { continue }
            address[String(fields[2])] = value
            code.append(value)
        }
        let hot = listed.compactMap { address[$0] }.sorted()
        #expect(hot.count > listed.count * 9 / 10, "most listed functions are in the binary: \(hot.count) of \(listed.count)")
        let everything = try #require(code.max()) - (try #require(code.min()))
        let stretch = hot[hot.count * 95 / 100] - hot[hot.count * 5 / 100]
        #expect(stretch * 3 < everything,
                "the hottest functions span \(stretch / 1024) KiB of \(everything / 1024) KiB of code")
        // Functions without a symbol, which the order cannot name, sit together just before the ordered ones
        // (scripts/lib/text-layout.ld): small, and next to .text.
        let sections = try Command.run("readelf", ["-SW", "\(bin)/scrape-sidecar"]).stdout.split(separator: "\n")
            .compactMap { line -> (name: String, address: UInt64, size: UInt64)? in
                let fields = line.split(separator: "]", maxSplits: 1).last?.split(separator: " ") ?? []
                guard fields.count > 5, let address = UInt64(fields[2], radix: 16), let size = UInt64(fields[4], radix: 16)
                else { return nil }
                return (String(fields[0]), address, size)
            }
        let unnamed = try #require(sections.first { $0.name == ".text.unnamed" }, "\(sections.map(\.name))")
        let text = try #require(sections.first { $0.name == ".text" })
        #expect(unnamed.size > 0 && unnamed.size < 512 * 1024, "\(unnamed.size) bytes")
        #expect(text.address >= unnamed.address + unnamed.size && text.address - (unnamed.address + unnamed.size) < 4096)
    }

    /// Both tools link FoundationEssentials only: every run-time conformance scan of a one-shot `certtool` command
    /// walks ≈ 2,000 fewer records without Foundation, FoundationInternationalization and CoreFoundation, the
    /// binaries are a third smaller, and the idle sidecar does not carry ICU's and CoreFoundation's start-up.
    /// One `import Foundation` in their modules, or a dependency that makes one (Yams does), brings them back.
    @Test(.timeLimit(.minutes(30))) func toolsLinkFoundationEssentialsOnly() throws {
        let bin = try Self.buildShipped()
        for binary in ["certtool", "scrape-sidecar"] {
            let nm = try Command.run("nm", ["--defined-only", "\(bin)/\(binary)"])
            #expect(nm.status == 0, "\(nm.stderr)")
            let symbols = nm.stdout.split(separator: "\n").map { $0.split(separator: " ").last ?? "" }
            for module in ["$s10Foundation", "$s30FoundationInternationalization", "$s4Yams", "__CFString"] {
                #expect(!symbols.contains { $0.hasPrefix(module) }, "\(binary): \(module)")
            }
            #expect(symbols.contains { $0.hasPrefix("$s20FoundationEssentials") }, "\(binary)")
        }
        // libyaml, linked statically in place of Yams.
        let sidecar = try Command.run("nm", ["--defined-only", "\(bin)/scrape-sidecar"]).stdout
        #expect(sidecar.contains(" T yaml_parser_parse\n"))
    }
}
