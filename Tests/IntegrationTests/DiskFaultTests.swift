import Foundation
import Testing
import X509

/// A full disk and a read-only one under the pki/ and under the cert agent's output directory: a clear
/// error, the old files intact, and recovery once space or write access is back.
@Suite struct DiskFaultTests {
    static func withoutFiller(_ snapshot: [String: Data]) -> [String: Data] { snapshot.filter { $0.key != SmallMount.filler } }

    static func versions(_ directory: String) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("..2") })
    }

    /// `certtool list`'s rows without the DAYS column: days left are rounded down, so a certificate issued
    /// within the second lists 90 and a second later 89.
    static func withoutDaysLeft(_ list: String) -> [[Substring]] {
        list.split(separator: "\n").map { line in
            var fields = line.split(separator: " ")
            if fields.count > 5 { fields.remove(at: 5) }
            return fields
        }
    }

    @Test func certtoolOnAFullThenReadOnlyPKI() throws {
        let ws = try Workspace()
        let disk = try SmallMount(ws, at: "pki")
        try ws.ok(["init"])
        try ws.ok(["issue", "a", "--san", "DNS:a.example"])
        _ = try ws.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                            "-keyout", "b.key", "-subj", "/CN=b", "-addext", "subjectAltName=DNS:b.example", "-out", "b.csr"])

        try disk.fill()
        let full = Self.withoutFiller(ws.snapshot())
        for command in [["issue", "b", "--san", "DNS:b.example"], ["issue", "a", "--san", "DNS:a.example", "--force"],
                        ["sign", "b.csr", "--name", "b"], ["revoke", "a"], ["crl"]] {
            let result = try ws.certtool(command)
            #expect(result.status == 1, "\(command): \(result.output)")
            #expect(result.stderr.hasPrefix("certtool: error: cannot write \(ws.pki)/") && result.stderr.hasSuffix(": No space left on device\n")
                    && result.stderr.filter { $0 == "\n" }.count == 1, "\(command): \(result.stderr)")
            #expect(Self.withoutFiller(ws.snapshot()) == full, "\(command) changed the pki or left a temporary file")
        }

        disk.free()
        try ws.ok(["sign", "b.csr", "--name", "b"])
        try ws.ok(["revoke", "a"])
        let list = try ws.ok(["list"]).stdout
        #expect(list.contains("a ") && list.contains("revoked") && list.contains("b "), "\(list)")

        try disk.setReadOnly(true)
        let readOnly = ws.snapshot()
        let refused = try ws.certtool(["issue", "c", "--san", "DNS:c.example"])
        #expect(refused.status == 1)
        #expect(refused.stderr == "certtool: error: cannot lock \(ws.pki)/.lock: the pki directory is on a read-only file system\n")
        #expect(ws.snapshot() == readOnly)
        // Reading a read-only pki works.
        let readList = try ws.certtool(["list"])
        #expect(readList.status == 0 && Self.withoutDaysLeft(readList.stdout) == Self.withoutDaysLeft(list), "\(readList.output)")
        #expect(try ws.certtool(["verify", "b"]).status == 0)
        #expect(try ws.certtool(["show", "b"]).status == 0)
    }

    /// The CA server with its pki full: 503 without server paths, nothing stored, the token not spent, and the
    /// same token enrolls once there is space again.
    @Test func caServerOnAFullPKIRefusesWithoutSpendingTheToken() throws {
        let ws = try Workspace()
        let disk = try SmallMount(ws, at: "pki")
        let ca = try CAServerFixture(ws: ws)
        let token = try ca.token(["--san", "DNS:app.example.internal"])
        try ca.makeCSR("app")

        try disk.fill()
        let full = Self.withoutFiller(ws.snapshot())
        let refused = try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(token)"])
        #expect(refused.status == 503 && refused.body == "the CA cannot store certificates right now: retry later", "\(refused)")
        #expect(Self.withoutFiller(ws.snapshot()) == full)
        #expect(ca.server!.output.contains("No space left on device"), "the detail is logged")
        #expect(try ca.curl("/metrics").body.contains(#"meshca_enrollment_failures_total{endpoint="simpleenroll",reason="storage"} 1"#))
        #expect(try ca.curl("/healthz").status == 200)

        disk.free()
        let enrolled = try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(token)"])
        #expect(enrolled.status == 200, "\(enrolled)")
    }

    /// The CA server with little space left in its pki still enrolls: it reserves room for the appends of many
    /// batches at once where it can, and only what a batch needs where it cannot.
    @Test func caServerOnANearlyFullPKIStillEnrolls() throws {
        let ws = try Workspace()
        let disk = try SmallMount(ws, at: "pki")
        let ca = try CAServerFixture(ws: ws)
        let token = try ca.token(["--san", "DNS:app.example.internal"])
        try ca.makeCSR("app")

        try disk.fill(leaving: 64 << 10)
        let enrolled = try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(token)"])
        #expect(enrolled.status == 200, "\(enrolled)")
        #expect(try ca.curl("/metrics").body.contains(#"meshca_enrollment_failures_total{endpoint="simpleenroll",reason="storage"} 0"#))
    }

    /// The cert agent's output directory fills up, then turns read-only, across renewals: the current set stays
    /// whole and in use, no partial version directory is left, and the renewed set lands once writes work.
    @Test func certAgentKeepsTheCurrentSetWhileTheOutputCannotBeWritten() throws {
        let ca = try CAServerFixture(["--default-validity", "20s"])
        try ca.ws.write("token", try ca.token(["--san", "DNS:prometheus.example.internal", "--client"]))
        let disk = try SmallMount(ca.ws, at: "out", size: "256k")
        let agent = try BackgroundProcess(
            Workspace.sidecarPath, CertAgentTests.agentArguments(ca, out: "out/certs"), in: ca.ws, name: "agent",
            ready: { $0.hasPrefix("wrote out/certs") })
        let first = try #require(CertAgentTests.readPair(ca.ws.path("out/certs")))
        #expect(first.keyMatches)

        for fault in ["full", "read-only"] {
            let current = try #require(CertAgentTests.readPair(ca.ws.path("out/certs"))).certificate.serialNumber
            let versions = try Self.versions(ca.ws.path("out/certs"))
            if fault == "full" { try disk.fill() } else { try disk.setReadOnly(true) }
            let expected = fault == "full" ? "No space left on device" : "Read-only file system"
            // The renewal (at about 13 s) fails to write; the agent says so and keeps retrying. The deadlines are
            // generous because the whole suite runs at once on two cores: a passing run does not wait for them.
            let failed = Date() + 45
            while !agent.output.contains("cannot write the new certificate set") || !agent.output.contains(expected), Date() < failed {
                Thread.sleep(forTimeInterval: 0.2)
            }
            #expect(agent.output.contains(expected), "\(fault): \(agent.output)")
            let kept = try #require(CertAgentTests.readPair(ca.ws.path("out/certs")))
            #expect(kept.keyMatches && kept.certificate.serialNumber == current, "\(fault): the current set is untouched")
            #expect(try Self.versions(ca.ws.path("out/certs")) == versions, "\(fault): no partial version directory left")

            if fault == "full" { disk.free() } else { try disk.setReadOnly(false) }
            let renewed = Date() + 30
            while (CertAgentTests.readPair(ca.ws.path("out/certs"))?.certificate.serialNumber ?? current) == current, Date() < renewed {
                Thread.sleep(forTimeInterval: 0.2)
            }
            let after = try #require(CertAgentTests.readPair(ca.ws.path("out/certs")))
            #expect(after.keyMatches && after.certificate.serialNumber != current, "\(fault): renewed once writable: \(agent.output)")
        }
        #expect(agent.process.isRunning)
        agent.stop()
    }
}
