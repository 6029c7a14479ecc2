import Foundation
import Testing

/// `certtool token` + `certtool serve` driven by plain curl and openssl, as a non-Swift client would.
@Suite struct EnrollmentServerTests {
    @Test func curlAndOpenSSLEnrollAsDesignShows() throws {
        let ca = try CAServerFixture()
        let token = try ca.token(["--san", "DNS:app.example.internal", "--server"])
        try ca.makeCSR("app")
        let enrolled = try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(token)"])
        #expect(enrolled.status == 200, "\(enrolled.body)")
        try ca.saveCertificates(enrolled.body, to: "app.crt")
        let verify = try ca.ws.openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", "pki/ca.crt", "app.crt"])
        #expect(verify.status == 0, "\(verify.output)")
        let text = try ca.ws.openssl(["x509", "-in", "app.crt", "-noout", "-ext", "subjectAltName,extendedKeyUsage"]).stdout
        #expect(text.contains("DNS:app.example.internal"))
        #expect(text.contains("TLS Web Server Authentication") && !text.contains("Client Authentication"))
        // The CA never saw the key: the certificate is for the key openssl made here.
        let certKey = try ca.ws.openssl(["x509", "-in", "app.crt", "-noout", "-pubkey"]).stdout
        let ownKey = try ca.ws.openssl(["pkey", "-in", "app.key", "-pubout"]).stdout
        #expect(certKey == ownKey)
        #expect(try ca.ws.certtool(["list"]).stdout.contains("app.example.internal"))
        // Enrolled certificates are packed, not filed one by one: certtool shows (and verifies) one by its serial.
        let serial = try ca.ws.serial("app.crt")
        #expect(try ca.ws.ok(["show", serial]).stdout.contains("DNS:app.example.internal"))
        #expect(try ca.ws.certtool(["verify", serial.lowercased(), "--purpose", "server"]).status == 0)
        let unknown = try ca.ws.certtool(["show", "ABCDEF0123"])
        #expect(unknown.status == 2 && unknown.stderr.contains("neither a file, a certificate name nor a serial"), "\(unknown.output)")

        // The token as the HTTP Basic password (RFC 7030 §3.2.3) works as well.
        let second = try ca.token(["--san", "DNS:app2.example.internal", "--client"])
        try ca.makeCSR("app2", subject: "/CN=app2", sans: "DNS:app2.example.internal")
        let basic = Data("est:\(second)".utf8).base64EncodedString()
        let viaBasic = try ca.post("simpleenroll", csr: "app2", headers: ["Authorization: Basic \(basic)"])
        #expect(viaBasic.status == 200, "\(viaBasic.body)")

        // cacerts, roots.pem and crl.pem as openssl reads them.
        let cacerts = try ca.curl("/.well-known/est/cacerts")
        #expect(cacerts.status == 200)
        try ca.saveCertificates(cacerts.body, to: "cacerts.pem")
        #expect(try ca.ws.read("cacerts.pem").contains(try ca.ws.read("pki/ca.crt").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try ca.curl("/roots.pem").body == ca.ws.read("pki/ca.crt").trimmingCharacters(in: .newlines))
        try ca.ws.write("crl.pem", try ca.curl("/crl.pem").body + "\n")
        #expect(try ca.ws.openssl(["crl", "-in", "crl.pem", "-CAfile", "pki/ca.crt", "-noout"]).status == 0)
        #expect(try ca.curl("/healthz").body == "ok")

        // The server's own certificate verifies for its IP without any skip-verify.
        let handshake = try ca.ws.openssl([
            "s_client", "-connect", "127.0.0.1:\(ca.port)", "-CAfile", "pki/ca.crt", "-verify_return_error",
            "-verify_ip", "127.0.0.1",
        ], input: Data())
        #expect(handshake.output.contains("Verify return code: 0 (ok)"), "\(handshake.output)")

        let metrics = try ca.curl("/metrics").body
        #expect(metrics.contains("meshca_certificates_issued_total{endpoint=\"simpleenroll\"} 2"))
        // One after the other, the two enrollments were two group commits of one each.
        #expect(metrics.contains("meshca_enrollment_duration_seconds_count{endpoint=\"simpleenroll\"} 2"), "\(metrics)")
        #expect(metrics.contains("meshca_commit_batch_size_sum 2.0") && metrics.contains("meshca_commit_batch_size_count 2"))
        #expect(metrics.contains("meshca_commit_duration_seconds_count 2"))
        let lint = try Exposition.lint(metrics)
        #expect(lint.status == 0, "\(lint.output)")
    }

    /// Under a umask that would narrow them (077), certificates and the database stay readable by others (0644),
    /// keys and the journal stay 0600: `certtool issue` and the server's certificates written ahead of the commit.
    @Test func aRestrictiveUmaskDoesNotNarrowTheModes() throws {
        let ws = try Workspace()
        let umask077 = ["/bin/sh", "-c", "umask 077 && exec \"$@\"", "sh"]
        let issued = try Command.run(umask077[0], Array(umask077.dropFirst()) + [
            Workspace.certtoolPath, "issue", "web", "--san", "DNS:web.example.internal", "--pki", ws.pki,
        ], directory: ws.url)
        #expect(issued.status == 0, "\(issued.output)")
        let token = try ws.ok(["token", "--san", "DNS:app.example.internal"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let ca = try CAServerFixture(ws: ws, skipInit: true, wrapper: umask077)
        try ca.makeCSR("app")
        let enrolled = try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(token)"])
        #expect(enrolled.status == 200, "\(enrolled.body)")
        ca.stop()
        let listing = { (folder: String) in try FileManager.default.contentsOfDirectory(atPath: "\(ws.pki)/\(folder)").map { "\(folder)/\($0)" } }
        // web and the server's own certificate by serial, the enrolled app in a pack; the three by name
        let certificates = try listing("certs_by_serial") + listing("packs") + listing("issued")
        #expect(certificates.count == 6, "\(certificates)")
        #expect(try ws.mode("pki/packs") == 0o755)
        let pack = try ws.openssl(["storeutl", "-noout", "-certs", "pki/packs/000001.pem"])
        #expect(pack.stdout.contains("Total found: 1"), "\(pack.output)")
        for file in ["ca.crt", "index.txt"] + certificates {
            #expect(try ws.mode("pki/\(file)") == 0o644, "\(file)")
        }
        for file in ["private/ca.key", "private/web.key", "journal"] {
            #expect(try ws.mode("pki/\(file)") == 0o600, "\(file)")
        }
    }

    /// Enrollments that no later batch checkpoints (the server fell quiet right after them) do not sit in the
    /// journal until the next enrollment or the stop: the idle server checkpoints them within the interval, so
    /// other certtool commands find pki/ durable with nothing to replay.
    @Test func anIdleServerEmptiesItsJournalWithinTheCheckpointInterval() throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        let ca = try CAServerFixture(ws: ws, skipInit: true, wrapper: ["env", "CERTTOOL_CHECKPOINT_SECONDS=2"])
        try ca.makeCSR("app")
        // Made first: certtool token, another process, would replay and empty the journal.
        let tokens = try (0..<3).map { _ in try ca.token(["--san", "DNS:app.example.internal"]) }
        let start = Date()
        for token in tokens {
            #expect(try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(token)"]).status == 200)
        }
        // The first batch may have checkpointed (the server had been up for longer than the interval); the
        // later ones, within the interval, did not.
        while !ws.journalIsEmpty(), Date().timeIntervalSince(start) < 10 { Thread.sleep(forTimeInterval: 0.1) }
        #expect(ws.journalIsEmpty(), "the journal still holds records \(Date().timeIntervalSince(start)) s after the last enrollment")
        #expect(ca.server?.process.isRunning == true)
        #expect(try ws.read("pki/index.txt").components(separatedBy: "/CN=app.example.internal").count == 4)
    }

    /// `--log-format json`: every log line is one JSON object a collector can parse, with the event's fields.
    @Test func jsonLogsCarryEachEventAsOneObjectPerLine() throws {
        let ca = try CAServerFixture(["--log-format", "json"])
        try ca.makeCSR("app")
        let token = try ca.token(["--san", "DNS:app.example.internal", "--server"])
        #expect(try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(token)"]).status == 200)
        #expect(try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(token)"]).status == 401)
        let server = try #require(ca.server)
        server.signal(SIGTERM)
        server.process.waitUntilExit()
        // The stop checkpointed the journal the enrollment went through: pki/ needs no replay.
        #expect(ca.ws.journalIsEmpty())
        #expect(try ca.ws.read("pki/index.txt").contains("/CN=app.example.internal"))
        let events = try JSONLogLines.parse(server.output, skipping: "listening on ")
        let enrolled = try #require(events.first { $0["msg"] as? String == "enrolled" }, "\(events)")
        #expect(enrolled["level"] as? String == "notice")
        #expect(enrolled["logger"] as? String == "certtool.serve")
        #expect(enrolled["sans"] as? String == "DNS:app.example.internal")
        #expect((enrolled["serial"] as? String)?.count == 32)
        let refused = try #require(events.first { $0["msg"] as? String == "enrollment refused" }, "\(events)")
        #expect((refused["detail"] as? String)?.contains("already used") == true, "\(refused)")
        #expect(events.contains { $0["msg"] as? String == "stopping" })
        // A clean shutdown logs nothing at error level (the maintenance loop's cancellation once did).
        #expect(!events.contains { $0["level"] as? String == "error" }, "\(events)")
    }

    @Test func everyTokenRefusalHasItsStatusAndReason() throws {
        let ca = try CAServerFixture(["--max-validity", "36h"])
        try ca.makeCSR("app")
        func enroll(_ token: String?, csr: String = "app", query: String = "") throws -> (status: Int, body: String) {
            let headers = token.map { ["Authorization: Bearer \($0)"] } ?? []
            return try ca.post("simpleenroll\(query)", csr: csr, headers: headers)
        }

        let noToken = try enroll(nil)
        #expect(noToken.status == 401 && noToken.body.contains("needs an enrollment token"), "\(noToken)")

        // Asking for more than the token grants is refused before the token is spent.
        let token = try ca.token(["--san", "DNS:app.example.internal", "--server"])
        try ca.makeCSR("extra", sans: "DNS:app.example.internal,DNS:admin.example.internal")
        let extraSAN = try enroll(token, csr: "extra")
        #expect(extraSAN.status == 403 && extraSAN.body.contains("admin.example.internal"), "\(extraSAN)")
        try ca.makeCSR("wrongprofile", extensions: ["extendedKeyUsage=clientAuth"])
        let wrongProfile = try enroll(token, csr: "wrongprofile")
        #expect(wrongProfile.status == 403 && wrongProfile.body.contains("profile does not grant"), "\(wrongProfile)")
        let tooLong = try enroll(token, query: "?validity=72h")
        #expect(tooLong.status == 403 && tooLong.body.contains("maximum of 36h"), "\(tooLong)")

        #expect(try enroll(token).status == 200)
        let reused = try enroll(token)
        #expect(reused.status == 401 && reused.body.contains("already used"), "\(reused)")

        let shortLived = try ca.token(["--san", "DNS:app.example.internal", "--ttl", "1s"])
        Thread.sleep(forTimeInterval: 2.2)
        let expired = try enroll(shortLived)
        #expect(expired.status == 401 && expired.body.contains("expired"), "\(expired)")

        // A token from another CA's provisioner key, and an unsigned (alg: none) copy of a good one.
        let other = try CAServerFixture()
        other.stop()
        let foreign = try other.token(["--san", "DNS:app.example.internal"])
        let otherKey = try enroll(foreign)
        #expect(otherKey.status == 401 && otherKey.body.contains("not signed by this CA"), "\(otherKey)")
        let good = try ca.token(["--san", "DNS:app.example.internal"])
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let unsigned = header + "." + good.split(separator: ".")[1] + "."
        let none = try enroll(unsigned)
        #expect(none.status == 401 && none.body.contains("alg"), "\(none)")
        // Swapped signature: a good header and payload with another token's signature.
        let parts = good.split(separator: "."), otherParts = foreign.split(separator: ".")
        let swapped = try enroll("\(parts[0]).\(parts[1]).\(otherParts[2])")
        #expect(swapped.status == 401, "\(swapped)")
        let garbage = try enroll("not-a-token")
        #expect(garbage.status == 401 && garbage.body.contains("not a JWT"), "\(garbage)")

        // Bad requests: garbage CSR, wrong content type, oversized body.
        try ca.ws.write("garbage.b64", "bm90IGEgY3Ny")
        let badCSR = try ca.post("simpleenroll", csr: "garbage", headers: ["Authorization: Bearer \(good)"])
        #expect(badCSR.status == 400 && badCSR.body.contains("PKCS#10"), "\(badCSR)")
        let badType = try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(good)"], contentType: "text/plain")
        #expect(badType.status == 400 && badType.body.contains("application/pkcs10"), "\(badType)")
        try ca.ws.write("huge.b64", String(repeating: "A", count: 200_000))
        let huge = try ca.post("simpleenroll", csr: "huge", headers: ["Authorization: Bearer \(good)"])
        #expect(huge.status == 413, "\(huge)")
        // None of the refused requests spent the token.
        #expect(try enroll(good).status == 200)

        let metrics = try ca.curl("/metrics").body
        for reason in ["missing_credentials", "not_granted", "reused_token", "expired_token", "bad_signature", "malformed_token", "bad_request"] {
            #expect(metrics.contains("reason=\"\(reason)\""), "no \(reason) in \(metrics)")
        }
    }

    @Test func reenrollmentOverMutualTLSKeepsSANsAndProfileAndRefusesRevoked() throws {
        let ca = try CAServerFixture()
        let token = try ca.token(["--san", "DNS:prom.example.internal", "--san", "IP:10.0.0.7", "--client"])
        try ca.makeCSR("prom", subject: "/CN=prom", sans: "DNS:prom.example.internal,IP:10.0.0.7")
        let first = try ca.post("simpleenroll", csr: "prom", headers: ["Authorization: Bearer \(token)"])
        try ca.saveCertificates(first.body, to: "prom.crt")

        // A new key, and a CSR that asks for nothing: the renewal keeps the SANs and the client profile.
        try ca.makeCSR("renewed", subject: "/CN=whatever", sans: nil)
        let renewed = try ca.post("simplereenroll", csr: "renewed", clientCert: "prom")
        #expect(renewed.status == 200, "\(renewed)")
        try ca.saveCertificates(renewed.body, to: "renewed.crt")
        let text = try ca.ws.openssl(["x509", "-in", "renewed.crt", "-noout", "-ext", "subjectAltName,extendedKeyUsage"]).stdout
        #expect(text.contains("DNS:prom.example.internal") && text.contains("IP Address:10.0.0.7"))
        #expect(text.contains("TLS Web Client Authentication") && !text.contains("Server Authentication"))
        #expect(try ca.ws.serial("renewed.crt") != ca.ws.serial("prom.crt"))

        let noCertificate = try ca.post("simplereenroll", csr: "renewed")
        #expect(noCertificate.status == 401 && noCertificate.body.contains("mutual TLS"), "\(noCertificate)")
        try ca.makeCSR("more", sans: "DNS:admin.example.internal")
        let moreSANs = try ca.post("simplereenroll", csr: "more", clientCert: "renewed")
        #expect(moreSANs.status == 403, "\(moreSANs)")

        // Revoked: refused with the reason; a certificate from another CA: refused too.
        try ca.ws.ok(["revoke", try ca.ws.serial("renewed.crt"), "--reason", "keyCompromise"])
        let revoked = try ca.post("simplereenroll", csr: "renewed", clientCert: "renewed")
        #expect(revoked.status == 403 && revoked.body.contains("revoked"), "\(revoked)")
        let other = try Workspace()
        try Command.run(Workspace.certtoolPath, ["issue", "stranger", "--client", "--san", "DNS:prom.example.internal", "--pki", other.pki])
        try FileManager.default.copyItem(atPath: "\(other.pki)/issued/stranger.crt", toPath: ca.ws.path("stranger.crt"))
        try FileManager.default.copyItem(atPath: "\(other.pki)/private/stranger.key", toPath: ca.ws.path("stranger.key"))
        let stranger = try ca.post("simplereenroll", csr: "renewed", clientCert: "stranger")
        #expect(stranger.status == 403 && stranger.body.contains("not issued by this CA"), "\(stranger)")

        // Expired: a 1-second certificate from this CA, a moment later.
        try ca.ws.ok(["issue", "brief", "--client", "--san", "DNS:brief.example.internal", "--validity", "1s"])
        try FileManager.default.copyItem(atPath: ca.ws.path("pki/issued/brief.crt"), toPath: ca.ws.path("brief.crt"))
        try FileManager.default.copyItem(atPath: ca.ws.path("pki/private/brief.key"), toPath: ca.ws.path("brief.key"))
        Thread.sleep(forTimeInterval: 1.5)
        let expired = try ca.post("simplereenroll", csr: "renewed", clientCert: "brief")
        #expect(expired.status == 403 && expired.body.contains("expired"), "\(expired)")
    }

    /// `meshca_crl_next_update_seconds` is the nextUpdate of the CRL the server serves, also one it did not
    /// publish itself: an earlier run's (a restarted server once reported none) or `certtool revoke`'s.
    @Test func theCRLMetricFollowsTheCRLServed() throws {
        let ca = try CAServerFixture()
        func nextUpdates() throws -> (metric: Double, served: Double) {
            try ca.ws.write("served.pem", try ca.curl("/crl.pem").body + "\n")
            let text = try ca.ws.openssl(["crl", "-in", "served.pem", "-noout", "-nextupdate", "-dateopt", "iso_8601"]).stdout
            let iso = text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "nextUpdate=", with: "")
                .replacingOccurrences(of: " ", with: "T")
            let served = try #require(ISO8601DateFormatter().date(from: iso), "\(text)").timeIntervalSince1970
            return (try Exposition.value("meshca_crl_next_update_seconds", in: ca.curl("/metrics").body), served)
        }
        ca.stop()
        try ca.start()
        let restarted = try nextUpdates()
        #expect(abs(restarted.metric - restarted.served) < 1, "\(restarted)")
        try ca.ws.ok(["issue", "gone", "--client", "--san", "DNS:gone.example.internal"])
        try ca.ws.ok(["revoke", "gone", "--next-update", "5d"])  // more than half of the server's 7 days: served as it is
        let revoked = try nextUpdates()
        #expect(abs(revoked.metric - revoked.served) < 1 && abs(revoked.served - restarted.served) > 3_600, "\(revoked)")
    }

    @Test func staleCRLIsRepublishedAndServerCertificateFollowsItsSANs() throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        // A CRL about to expire and a server certificate with the wrong SANs, as an earlier run might leave.
        try ws.ok(["crl", "--next-update", "1m"])
        try ws.ok(["issue", "ca-server", "--san", "DNS:old.example.internal"])
        let ca = try CAServerFixture(["--san", "DNS:ca.example.internal"], ws: ws, skipInit: true)
        try ws.write("crl.pem", try ca.curl("/crl.pem").body + "\n")
        let crl = try ws.openssl(["crl", "-in", "crl.pem", "-noout", "-crlnumber", "-nextupdate"]).stdout
        #expect(!crl.contains("crlNumber=0x01"), "a new CRL was published: \(crl)")
        #expect(crl.contains(UTCDateFormatter.monthDay(Date() + 7 * 86_400)), "\(crl)")
        let text = try ws.openssl(["x509", "-in", "pki/issued/ca-server.crt", "-noout", "-ext", "subjectAltName"]).stdout
        #expect(text.contains("IP Address:127.0.0.1") && text.contains("DNS:ca.example.internal") && !text.contains("old."))
    }
}

/// `Nov 29` as openssl prints dates (day padded with a space).
enum UTCDateFormatter {
    static func monthDay(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "MMM d"
        let text = formatter.string(from: date)
        let parts = text.split(separator: " ")
        return parts.count == 2 && parts[1].count == 1 ? "\(parts[0])  \(parts[1])" : text
    }
}
