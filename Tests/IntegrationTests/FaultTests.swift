import Foundation
import MeshCA
import Testing

/// Faults: processes killed mid-write, upstreams dying mid-response.
@Suite struct FaultTests {
    static let reenrollUntilGone = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/reenroll_until_gone.py").path

    /// Issuing processes killed with SIGKILL at random moments leave a pki whose every index row has its
    /// certificate file, that openssl and certtool still read, and where the next issuance works.
    @Test func killNineDuringIssuanceLeavesAConsistentPKI() throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        for round in 0..<12 {
            let issuer = try BackgroundProcess(
                "/bin/sh", ["-c", "i=0; while true; do i=$((i+1)); '\(Workspace.certtoolPath)' issue r\(round)-$i --san DNS:r\(round)-$i.example --pki '\(ws.pki)' >/dev/null 2>&1; done"],
                in: ws, name: "issuer", ready: nil)
            Thread.sleep(forTimeInterval: Double.random(in: 0.2...0.6))
            // Kill the shell and whatever certtool it is running, mid-write or not.
            _ = try? Command.run("pkill", ["-KILL", "-P", String(issuer.process.processIdentifier)])
            issuer.stop()
        }
        let list = try ws.certtool(["list", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        let index = try ws.read("pki/index.txt")
        let rows = index.split(separator: "\n")
        #expect(rows.count > 5, "issuances happened: \(rows.count)")
        for row in rows {
            let serial = row.split(separator: "\t", omittingEmptySubsequences: false)[3]
            #expect(FileManager.default.fileExists(atPath: ws.path("pki/certs_by_serial/\(serial).pem")), "row without certificate: \(row)")
        }
        // The next issuance works, and openssl reads the database it leaves.
        try ws.ok(["issue", "after", "--san", "DNS:after.example"])
        let serial = try ws.serial("pki/issued/after.crt")
        try ws.write("openssl.cnf", "[ca]\ndefault_ca = meshca\n[meshca]\ndatabase = pki/index.txt\n")
        #expect(try ws.openssl(["ca", "-config", "openssl.cnf", "-status", serial]).output.contains("=Valid (V)"))
        let text = try ws.read("pki/index.txt")
        #expect(text.hasSuffix("\n") && text.contains("\t\(serial)\t"))
    }

    /// The CA server killed with SIGKILL after answering enrollments that are only in its journal (no
    /// checkpoint for an hour), and the writes to pki/ a power cut could lose taken away: the next certtool
    /// process replays the journal — every answered certificate has its row (once) and is in its pack — and
    /// empties it.
    @Test func killNineOfTheCAServerLeavesAJournalTheNextProcessReplays() throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        let indexBefore = try ws.read("pki/index.txt")
        let ca = try CAServerFixture(ws: ws, skipInit: true, wrapper: ["env", "CERTTOOL_CHECKPOINT_SECONDS=3600"])
        try ca.makeCSR("app")
        // Made first: certtool token, another process, would replay and empty the journal each time.
        let tokens = try (0..<3).map { _ in try ca.token(["--san", "DNS:app.example.internal"]) }
        var serials: [String] = []
        for (round, token) in tokens.enumerated() {
            let enrolled = try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(token)"])
            #expect(enrolled.status == 200, "\(enrolled)")
            try ca.saveCertificates(enrolled.body, to: "enrolled-\(round).pem")
            serials.append(try ws.serial("enrolled-\(round).pem"))
        }
        ca.stop()  // SIGKILL
        #expect(!ws.journalIsEmpty(), "the enrollments are in the journal")
        try FileManager.default.removeItem(atPath: ws.path("pki/packs/000001.pem"))
        try FileManager.default.removeItem(atPath: ws.path("pki/tokens.used"))
        try ws.write("pki/index.txt", indexBefore)

        let list = try ws.certtool(["list", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        let index = try ws.read("pki/index.txt")
        for serial in serials {
            #expect(index.components(separatedBy: "\t\(serial)\t").count == 2, "one row for \(serial): \(index)")
        }
        #expect(try ws.packedSerials() == serials)
        #expect(ws.journalIsEmpty())
        // OpenSSL reads the replayed rows.
        try ws.write("openssl.cnf", "[ca]\ndefault_ca = meshca\n[meshca]\ndatabase = pki/index.txt\n")
        for serial in serials {
            #expect(try ws.openssl(["ca", "-config", "openssl.cnf", "-status", serial]).output.contains("=Valid (V)"))
        }
        // The tokens stay spent (tokens.used came back from the journal): the restarted server refuses the last.
        try ca.start()
        #expect(try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(tokens[2])"]).status == 401)
    }

    /// The CA server killed with SIGKILL while six keep-alive clients re-enroll as fast as it answers, at a
    /// random moment (mid-batch, mid-apply or mid-checkpoint): the next certtool process replays what the journal
    /// holds, and then every answered certificate has exactly one row and is in the packs once, the packs hold
    /// nothing else (openssl reads every certificate in them: no torn or doubled bytes), and every enrolled row
    /// has its certificate there.
    @Test func killNineOfTheCAServerUnderLoadLeavesPacksThatMatchTheDatabase() throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        try ws.ok(["issue", "client", "--client", "--san", "DNS:app.example.internal"])
        let ca = try CAServerFixture(ws: ws, skipInit: true)
        try ca.makeCSR("app")
        let clients = try BackgroundProcess(
            "python3", [Self.reenrollUntilGone, ca.url, "pki/ca.crt", "pki/issued/client.crt", "pki/private/client.key",
                        "app.b64", "6", "answers.txt"],
            in: ws, name: "clients", ready: nil)
        Thread.sleep(forTimeInterval: Double.random(in: 1.2...2.2))
        ca.stop()  // SIGKILL
        clients.process.waitUntilExit()
        let answered = try ws.read("answers.txt").split(separator: "\n").map { line in
            try #require(try CertsOnlyPKCS7.decodeBase64(line.utf8).first).serialNumber.hexString
        }
        #expect(answered.count > 50, "the clients were answered before the kill: \(clients.output)")

        let list = try ws.certtool(["list", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(ws.journalIsEmpty())
        let rows = try ws.read("pki/index.txt").split(separator: "\n").map {
            String($0.split(separator: "\t", omittingEmptySubsequences: false)[3])
        }
        let filed = Set(try FileManager.default.contentsOfDirectory(atPath: ws.path("pki/certs_by_serial")).map { String($0.dropLast(4)) })
        let packed = try ws.packedSerials()
        #expect(Set(packed).count == packed.count, "a certificate packed twice")
        #expect(Set(rows).count == rows.count, "a row written twice")
        #expect(Set(rows).subtracting(filed) == Set(packed))
        #expect(Set(answered).isSubset(of: Set(packed)))
    }

    /// The CA's clock three minutes ahead of or behind the sidecar's (libfaketime): notBefore is back-dated
    /// 5 minutes, so the agent on the real clock trusts the CA's server certificate, openssl accepts the issued
    /// set at once, and renewal over mTLS works with the CA judging the client on its own clock.
    @Test(arguments: [3, -3])
    func clockSkewBetweenCAAndSidecarIsAbsorbed(minutes: Int) throws {
        let skew = ["faketime", "-f", minutes > 0 ? "+\(minutes)m" : "\(minutes)m"]
        // The CA is made, serves and hands out tokens on its own clock.
        let ws = try Workspace()
        func onCAClock(_ arguments: [String]) throws -> CommandResult {
            try Command.run(skew[0], Array(skew.dropFirst()) + [Workspace.certtoolPath] + arguments + ["--pki", ws.pki], directory: ws.url)
        }
        let initialized = try onCAClock(["init"])
        try #require(initialized.status == 0, "\(initialized.output)")
        let ca = try CAServerFixture(["--default-validity", "1h"], ws: ws, skipInit: true, wrapper: skew)
        let token = try onCAClock(["token", "--san", "DNS:prometheus.example.internal", "--client"])
        #expect(token.status == 0, "\(token.output)")
        try ca.ws.write("token", token.stdout.trimmingCharacters(in: .whitespacesAndNewlines))

        let enrolled = try Command.run(Workspace.sidecarPath, CertAgentTests.agentArguments(ca, out: "certs") + ["--once"], directory: ca.ws.url)
        #expect(enrolled.status == 0, "\(enrolled.output)")
        let pair = try #require(CertAgentTests.readPair(ca.ws.path("certs")))
        let expectedNotBefore = Date() + Double(minutes * 60) - 5 * 60
        #expect(abs(pair.certificate.notValidBefore.timeIntervalSince(expectedNotBefore)) < 30, "the CA ran on the skewed clock")
        let verify = try ca.ws.openssl(["verify", "-purpose", "sslclient", "-CAfile", "certs/root-cert.pem", "certs/cert-chain.pem"])
        #expect(verify.status == 0, "\(verify.output)")

        try ca.makeCSR("renew", subject: "/CN=prometheus.example.internal", sans: "DNS:prometheus.example.internal")
        let renewed = try ca.curl("/.well-known/est/simplereenroll", [
            "-H", "Content-Type: application/pkcs10", "--data-binary", "@renew.b64",
            "--cert", "certs/cert-chain.pem", "--key", "certs/key.pem"])
        #expect(renewed.status == 200, "\(renewed)")

        // Stopped, the faketime wrapper removes its semaphore: a leaked one fails the next wrapper given that PID.
        let wrapper = try #require(ca.server).process.processIdentifier
        ca.stop()
        #expect(!FileManager.default.fileExists(atPath: "/dev/shm/sem.faketime_sem_\(wrapper)"))
    }

    /// The upstream dies in the middle of a 50 MB answer: that client's transfer fails cleanly, and the
    /// sidecar serves the next request once the upstream is back.
    @Test func upstreamKilledMidResponse() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar(["--allow-san", "DNS:prometheus.example.internal", "--allow-path", "/big", "--allow-path", "/metrics"])
        let download = try BackgroundProcess(
            "curl", ["-sS", "--max-time", "30", "--cacert", "pki/ca.crt", "--cert", "pki/issued/prom.crt", "--key", "pki/private/prom.key",
                     "--limit-rate", "2M", "-o", "big.out", "-w", "%{http_code}", "https://127.0.0.1:\(fixture.port)/big"],
            in: fixture.ws, name: "download", ready: nil)
        Thread.sleep(forTimeInterval: 1.5)
        fixture.upstream.stop()  // SIGKILL mid-response
        download.process.waitUntilExit()
        #expect(download.process.terminationStatus != 0, "curl saw the cut: \(download.output)")
        let received = (try? FileManager.default.attributesOfItem(atPath: fixture.ws.path("big.out"))[.size] as? Int) ?? 0
        #expect(received > 0 && received < 50 << 20, "a partial body, not a silent truncation dressed as success: \(received)")
        #expect(fixture.sidecar!.process.isRunning)
        // The upstream is gone: 502 at once, not a hang.
        #expect(try fixture.curl().status == 502)
    }
}
