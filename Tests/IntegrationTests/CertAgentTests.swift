import Foundation
import Testing
import X509

/// `scrape-sidecar certs` against a real `certtool serve`.
@Suite struct CertAgentTests {
    static let hupCounter = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hup_counter.py").path

    static func agentArguments(_ ca: CAServerFixture, out: String, san: String = "DNS:prometheus.example.internal",
                               token: String = "token") -> [String] {
        ["certs", "--ca-url", ca.url, "--ca-bundle", "pki/ca.crt", "--token", token, "--san", san, "--out", out]
    }

    func agent(_ ca: CAServerFixture, _ arguments: [String]) throws -> CommandResult {
        try Command.run(Workspace.sidecarPath, arguments, directory: ca.ws.url)
    }

    /// The set under `directory`, read through the names a consumer opens; nil if a file is missing.
    static func readPair(_ directory: String) -> (certificate: Certificate, keyMatches: Bool)? {
        guard let chain = try? String(contentsOfFile: "\(directory)/cert-chain.pem", encoding: .utf8),
            let keyPEM = try? String(contentsOfFile: "\(directory)/key.pem", encoding: .utf8),
            let certificate = try? Certificate(pemEncoded: chain), let key = try? Certificate.PrivateKey(pemEncoded: keyPEM)
        else { return nil }
        return (certificate, key.publicKey == certificate.publicKey)
    }

    @Test func onceWritesOneConsistentSetWithTheAskedKeyMode() throws {
        let ca = try CAServerFixture()
        try ca.ws.write("token", try ca.token(["--san", "DNS:prometheus.example.internal", "--client"]))
        let first = try agent(ca, Self.agentArguments(ca, out: "promcerts") + ["--once", "--key-mode", "0644", "--on-rotate-exec", "touch rotated"])
        #expect(first.status == 0, "\(first.output)")
        #expect(first.stdout.hasPrefix("wrote promcerts: serial "))

        let fm = FileManager.default
        let data = try fm.destinationOfSymbolicLink(atPath: ca.ws.path("promcerts/..data"))
        #expect(data.hasPrefix("..2"))
        for name in ["root-cert.pem", "cert-chain.pem", "key.pem"] {
            #expect(try fm.destinationOfSymbolicLink(atPath: ca.ws.path("promcerts/\(name)")) == "..data/\(name)")
        }
        #expect(try ca.ws.mode("promcerts/\(data)/key.pem") == 0o644)
        #expect(try ca.ws.read("promcerts/root-cert.pem") == ca.ws.read("pki/ca.crt"))
        let verify = try ca.ws.openssl(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "promcerts/root-cert.pem", "promcerts/cert-chain.pem"])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(Self.readPair(ca.ws.path("promcerts"))?.keyMatches == true)
        #expect(fm.fileExists(atPath: ca.ws.path("rotated")), "the rotation command ran")

        // A second --once finds the valid set and leaves it (the token is spent anyway).
        let again = try agent(ca, Self.agentArguments(ca, out: "promcerts") + ["--once"])
        #expect(again.status == 0 && !again.stdout.contains("wrote"), "\(again.output)")

        // A spent token into an empty directory: one clear line, exit 2, nothing written.
        let refused = try agent(ca, Self.agentArguments(ca, out: "fresh") + ["--once"])
        #expect(refused.status == 2)
        #expect(refused.stderr.hasPrefix("scrape-sidecar: error: enrollment refused") && refused.stderr.contains("already used"), "\(refused.stderr)")
        #expect(!fm.fileExists(atPath: ca.ws.path("fresh/..data")))

        // Default mode 0600, token from the environment.
        let token = try ca.token(["--san", "DNS:prometheus.example.internal", "--client"])
        let fromEnv = try Command.run(
            Workspace.sidecarPath,
            ["certs", "--ca-url", ca.url, "--ca-bundle", "pki/ca.crt", "--token-env", "CA_TOKEN", "--san", "DNS:prometheus.example.internal",
             "--out", "private", "--once"],
            environment: ["CA_TOKEN": token], directory: ca.ws.url)
        #expect(fromEnv.status == 0, "\(fromEnv.output)")
        #expect(try ca.ws.mode("private/..data/key.pem") == 0o600)

        // Bad input is refused before anything happens.
        let badMode = try agent(ca, Self.agentArguments(ca, out: "x") + ["--key-mode", "0777"])
        #expect(badMode.status == 2 && badMode.stderr.contains("--key-mode"))
        let badURL = try agent(ca, ["certs", "--ca-url", "http://127.0.0.1:1", "--ca-bundle", "pki/ca.crt", "--token", "token", "--san", "DNS:a", "--out", "x"])
        #expect(badURL.status == 2 && badURL.stderr.contains("https://"))
    }

    /// An agent started over an expired set asks the CA to renew it first (nothing to spend); a CA without
    /// `--renew-expired-within` refuses, and the agent enrolls with its token instead — or, without one, says
    /// both in one line.
    @Test func anExpiredSetIsRenewedFirstAndReplacedWithTheTokenWhenRefused() throws {
        let ca = try CAServerFixture(["--default-validity", "3s"])
        try ca.ws.write("token", try ca.token(["--san", "DNS:prometheus.example.internal", "--client"]))
        #expect(try agent(ca, Self.agentArguments(ca, out: "promcerts") + ["--once"]).status == 0)
        let first = try #require(Self.readPair(ca.ws.path("promcerts"))).certificate
        Thread.sleep(until: first.notValidAfter + 1.5)

        try ca.ws.write("fresh", try ca.token(["--san", "DNS:prometheus.example.internal", "--client"]))
        let replaced = try agent(ca, Self.agentArguments(ca, out: "promcerts", token: "fresh") + ["--once"])
        #expect(replaced.status == 0, "\(replaced.output)")
        #expect(replaced.output.contains("the CA refused to renew the expired certificate") && replaced.output.contains("enrolling with the token"),
                "\(replaced.output)")
        let second = try #require(Self.readPair(ca.ws.path("promcerts"))).certificate
        #expect(second.serialNumber != first.serialNumber)
        Thread.sleep(until: second.notValidAfter + 1.5)

        let noToken = try agent(ca, ["certs", "--ca-url", ca.url, "--ca-bundle", "pki/ca.crt", "--san", "DNS:prometheus.example.internal",
                                     "--out", "promcerts", "--once"])
        #expect(noToken.status == 2, "\(noToken.output)")
        #expect(noToken.stderr.hasPrefix("scrape-sidecar: error: the CA refused to renew the expired certificate")
                && noToken.stderr.hasSuffix("give --token or --token-env to enroll again\n")
                && noToken.stderr.split(separator: "\n").count == 1, "\(noToken.stderr)")
        #expect(try #require(Self.readPair(ca.ws.path("promcerts"))).certificate.serialNumber == second.serialNumber)
    }

    @Test func renewsAtTwoThirdsAndReadersNeverSeeAMismatchedPair() throws {
        let ca = try CAServerFixture(["--default-validity", "15s"])
        try ca.ws.write("token", try ca.token(["--san", "DNS:prometheus.example.internal", "--client"]))
        try ca.ws.write("token2", try ca.token(["--san", "DNS:prometheus.example.internal", "--client"]))
        let prometheus = try BackgroundProcess(
            "python3", [Self.hupCounter, "hups", "prometheus.pid"], in: ca.ws, name: "hup", ready: { $0 == "ready" })
        defer { prometheus.stop() }
        let sameKey = try BackgroundProcess(
            Workspace.sidecarPath, Self.agentArguments(ca, out: "same") + ["--on-rotate-signal", "prometheus.pid:HUP"],
            in: ca.ws, name: "same", ready: { $0.hasPrefix("wrote same") })
        defer { sameKey.stop() }
        let newKey = try BackgroundProcess(
            Workspace.sidecarPath, Self.agentArguments(ca, out: "rotating", token: "token2") + ["--rotate-key", "--on-rotate-exec", "echo $$ $(ls /proc/self/fd | wc -l) >> execs; exit 3"],
            in: ca.ws, name: "rotating", ready: { $0.hasPrefix("wrote rotating") })
        defer { newKey.stop() }

        var serials: [String: Set<String>] = [:], keys: [String: Set<Data>] = [:]
        var mismatches = 0, reads = 0
        let deadline = Date() + 36
        while Date() < deadline {
            // The names a consumer such as Prometheus opens, one after the other.
            if let pair = Self.readPair(ca.ws.path("same")) {
                reads += 1
                if !pair.keyMatches { mismatches += 1 }
                serials["same", default: []].insert(pair.certificate.serialNumber.description)
                keys["same", default: []].insert(Data(pair.certificate.publicKey.subjectPublicKeyInfoBytes))
            }
            // A new key each time: a reader that resolves ..data once gets one whole set.
            if let version = try? FileManager.default.destinationOfSymbolicLink(atPath: ca.ws.path("rotating/..data")),
                let pair = Self.readPair(ca.ws.path("rotating/\(version)"))
            {
                reads += 1
                if !pair.keyMatches { mismatches += 1 }
                serials["rotating", default: []].insert(pair.certificate.serialNumber.description)
                keys["rotating", default: []].insert(Data(pair.certificate.publicKey.subjectPublicKeyInfoBytes))
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(reads) reads saw a key that does not match the certificate")
        #expect(reads > 1000)
        #expect((serials["same"]?.count ?? 0) >= 4, "three rotations or more: \(sameKey.output)")
        #expect((serials["rotating"]?.count ?? 0) >= 4, "three rotations or more: \(newKey.output)")
        #expect(keys["same"]?.count == 1, "renewal keeps the key by default")
        #expect((keys["rotating"]?.count ?? 0) >= 4, "--rotate-key makes a new key each time")
        let hups = (try? ca.ws.read("hups"))?.split(separator: "\n").count ?? 0
        #expect(hups >= 4, "the pidfile's process got SIGHUP after each write: \(sameKey.output)")
        // The command ran through /bin/sh after each write, with no descriptor of the agent's open (`ls` sees
        // stdin, stdout, stderr and its own directory), and its exit status was logged.
        let execs = (try? ca.ws.read("execs"))?.split(separator: "\n") ?? []
        #expect(execs.count >= 4 && Set(execs).count == execs.count, "\(execs)")
        #expect(execs.allSatisfy { $0.hasSuffix(" 4") }, "\(execs)")
        #expect(newKey.output.contains("ran the rotation command") && newKey.output.contains("status=3"), "\(newKey.output)")
        // Only the current and the previous version stay.
        let versions = try FileManager.default.contentsOfDirectory(atPath: ca.ws.path("rotating")).filter { $0.hasPrefix("..2") }
        #expect(versions.count <= 2, "\(versions)")
    }

    @Test func killNineDuringRotationsLeavesAConsistentSet() throws {
        let ca = try CAServerFixture(["--default-validity", "6s"])
        try ca.ws.write("token", try ca.token(["--san", "DNS:prometheus.example.internal", "--client"]))
        var serials = Set<String>()
        for round in 0..<5 {
            let agent = try BackgroundProcess(
                Workspace.sidecarPath, Self.agentArguments(ca, out: "out") + ["--log-level", "info"], in: ca.ws, name: "agent",
                ready: { $0.contains("next renewal") })
            Thread.sleep(forTimeInterval: Double.random(in: 2.5...4.5))
            agent.stop()  // SIGKILL
            let pair = try #require(Self.readPair(ca.ws.path("out")), "round \(round): the set is incomplete")
            #expect(pair.keyMatches, "round \(round)")
            #expect(pair.certificate.notValidAfter > Date(), "round \(round)")
            serials.insert(pair.certificate.serialNumber.description)
        }
        #expect(serials.count >= 3, "renewals happened between the kills")
        let final = try agent(ca, Self.agentArguments(ca, out: "out") + ["--once"])
        #expect(final.status == 0, "\(final.output)")
    }

    @Test func serveWithEnrollmentRefusesCertAndKeyFlags() throws {
        let ca = try CAServerFixture()
        let result = try agent(ca, ["serve", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--cert", "a", "--key", "b",
                                    "--ca-url", ca.url, "--ca-bundle", "pki/ca.crt", "--token", "t", "--san", "DNS:a", "--out", "o"])
        #expect(result.status == 2)
        #expect(result.stderr == "scrape-sidecar: error: --ca-url enrolls the serving identity: drop --cert, --key and --web.config.file\n")
    }
}
