import Foundation
import Testing

@Suite struct RevocationTests {
    @Test(arguments: [false, true])
    func crlVerifiesAndRefusesTheRevokedCertificate(intermediate: Bool) throws {
        let ws = try Workspace()
        try ws.ok(["init"] + (intermediate ? ["--intermediate"] : []))
        try ws.ok(["issue", "good", "--client", "--san", "good.example.internal"])
        try ws.ok(["issue", "bad", "--client", "--san", "bad.example.internal"])
        let revoked = try ws.ok(["revoke", "bad", "--reason", "keyCompromise"])
        #expect(revoked.stdout.contains("CRL #1"))

        let issuerFile = intermediate ? "pki/intermediate.crt" : "pki/ca.crt"
        let crl = try ws.openssl(["crl", "-in", "pki/crl.pem", "-CAfile", issuerFile, "-noout", "-verify", "-text"])
        #expect(crl.status == 0, "\(crl.output)")
        #expect(crl.stderr.contains("verify OK"))
        #expect(crl.stdout.contains("Version 2 (0x1)"))
        #expect(crl.stdout.contains("X509v3 Authority Key Identifier"))
        #expect(crl.stdout.contains("X509v3 CRL Number: \n                1"))
        #expect(crl.stdout.contains("Key Compromise"))

        var chain = ["-CAfile", "pki/ca.crt", "-CRLfile", "pki/crl.pem", "-crl_check"]
        if intermediate { chain += ["-untrusted", "pki/intermediate.crt"] }
        let refused = try ws.openssl(["verify"] + chain + ["pki/issued/bad.crt"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("certificate revoked"))
        let accepted = try ws.openssl(["verify"] + chain + ["pki/issued/good.crt"])
        #expect(accepted.status == 0, "\(accepted.output)")
    }

    @Test func crlNumberIncreasesAndNextUpdateIsHonoured() throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        var numbers: [Int] = []
        for _ in 0..<3 {
            try ws.ok(["crl", "--next-update", "2d"])
            let text = try ws.openssl(["crl", "-in", "pki/crl.pem", "-noout", "-crlnumber", "-lastupdate", "-nextupdate"]).stdout
            let number = try #require(text.split(separator: "\n").first { $0.hasPrefix("crlNumber=0x") })
            numbers.append(try #require(Int(number.dropFirst("crlNumber=0x".count), radix: 16)))
        }
        #expect(numbers == [1, 2, 3])
        let dates = try ws.openssl(["crl", "-in", "pki/crl.pem", "-noout", "-nextupdate"]).stdout
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "MMM d HH:mm:ss yyyy 'GMT'"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let raw = dates.replacingOccurrences(of: "nextUpdate=", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "  ", with: " ")
        let next = try #require(formatter.date(from: raw), "\(raw)")
        #expect(abs(next.timeIntervalSinceNow - 2 * 86_400) < 60)
    }

    @Test func opensslCAReadsTheIndex() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "kept", "--san", "kept.example.internal"])
        try ws.ok(["issue", "gone", "--san", "gone.example.internal"])
        try ws.ok(["revoke", "gone", "--reason", "superseded"])
        try ws.write("openssl.cnf", "[ca]\ndefault_ca = meshca\n[meshca]\ndatabase = pki/index.txt\n")
        func status(_ name: String) throws -> String {
            try ws.openssl(["ca", "-config", "openssl.cnf", "-status", try ws.serial("pki/issued/\(name).crt")]).output
        }
        #expect(try status("kept").contains("=Valid (V)"))
        #expect(try status("gone").contains("=Revoked (R)"))
        #expect(try ws.read("pki/index.txt").contains(",superseded\t"))
    }

    @Test func revokeBySerialAndTwiceIsRefused() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--san", "web.example.internal"])
        try ws.ok(["revoke", try ws.serial("pki/issued/web.crt").lowercased()])
        let again = try ws.certtool(["revoke", "web"])
        #expect(again.status == 2)
        #expect(again.stderr.contains("already revoked"))
        let verify = try ws.certtool(["verify", "web"])
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("revoked"))
    }
}
