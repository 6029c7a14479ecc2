import Crypto
import Foundation
import MeshCA
import Testing
import X509

/// Every bad input gets one error line naming the problem, exit status 2, and leaves the pki untouched.
@Suite struct BadInputTests {
    static let cases: [([String], String)] = [
        (["issue", "a", "--san", "DNS:"], "empty SAN 'DNS:'"),
        (["issue", "a", "--san", "IP:999.1.1.1"], "invalid IP address '999.1.1.1'"),
        (["issue", "a", "--san", "DNS:bad..name"], "invalid DNS name 'bad..name'"),
        (["issue", "a", "--san", "DNS:-x.example"], "invalid DNS name '-x.example'"),
        (["issue", "a", "--san", "URI:not a uri"], "invalid URI 'not a uri'"),
        (["issue", "a", "--san", "URI:noscheme"], "invalid URI 'noscheme'"),
        (["issue", "a", "--san", "X400:foo"], "unknown SAN type 'X400'"),
        (["issue", "a", "--san", "DNS:10.0.0.7"], "write it as IP:10.0.0.7"),
        (["issue", "a", "--san", "DNS:*.*.example.com"], "'*' is only allowed as the whole leftmost label"),
        (["issue", "a", "--san", "email:nobody"], "invalid email address 'nobody'"),
        (["issue", "a", "--san", "a.example", "--key-type", "dsa-1024"], "unknown key type 'dsa-1024'"),
        (["issue", "a", "--san", "a.example", "--validity", "ninety days"], "invalid validity 'ninety days'"),
        (["issue", "a", "--san", "a.example", "--validity=0d"], "invalid validity '0d'"),
        (["issue", "a", "--san", "a.example", "--validity=-5d"], "invalid validity '-5d'"),
        (["issue", "web", "--san", "web.example.internal"], "already exists"),
        (["issue", "a"], "at least one SAN"),
        (["issue", "ca", "--san", "a.example"], "reserved"),
        (["issue", "../escape", "--san", "a.example"], "invalid name '../escape'"),
        (["issue", "a", "--san", "a.example", "--client", "--server"], "--client"),
        (["revoke", "nobody"], "no certificate named or with serial 'nobody'"),
        (["revoke", "web", "--reason", "boredom"], "unknown revocation reason 'boredom'"),
        (["crl", "--next-update", "soon"], "invalid --next-update 'soon'"),
        (["token", "--san", "DNS:a.example", "--ttl", "1:30"], "invalid --ttl '1:30'"),
        (["show", "missing"], "'missing' is neither a file, a certificate name nor a serial"),
        (["verify", "web", "--purpose", "email"], "unknown purpose 'email'"),
        (["verify", "web", "--at", "tomorrow"], "invalid time 'tomorrow'"),
        (["sign", "does-not-exist.csr"], "cannot read certificate request 'does-not-exist.csr'"),
        (["init", "--key-type", "rsa-1024"], "unknown key type 'rsa-1024'"),
        (["issue", "a", "extra", "--san", "a.example"], "Unexpected argument 'extra'"),
        (["issue", "a", "--san", "DNS:bücher.example"], "write internationalized names in punycode"),
        (["issue", "a", "--san", "DNS:\(String(repeating: "a", count: 64)).example"], "longer than 63"),
        (["issue", "a", "--san", "DNS:\(String(repeating: "abcde.", count: 43))example"], "longer than 253"),
        (["issue", "a", "--san", "URI:spiffe://\(String(repeating: "a", count: 2100))"], "longer than 2048 bytes"),
        (["issue", "a", "--san", "email:\(String(repeating: "a", count: 64))@\(String(repeating: "b", count: 190)).example"], "invalid email"),
        (["issue", "a", "--san", "DNS:*.com"], "a wildcard needs at least two labels"),
        (["issue", String(repeating: "n", count: 300), "--san", "a.example"], "invalid name"),
    ]

    @Test(arguments: cases)
    func refusedWithOneLineAndNothingWritten(arguments: [String], message: String) throws {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--san", "web.example.internal"])
        let before = ws.snapshot()
        let result = try ws.certtool(arguments)
        #expect(result.status == 2, "\(arguments): \(result.output)")
        #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
        #expect(result.stderr.hasPrefix("certtool: error: "))
        #expect(result.stdout.isEmpty)
        #expect(ws.snapshot() == before, "\(arguments) changed the pki")
    }

    @Test(arguments: [
        ["issue", "a", "--san", "DNS:bad..name"], ["revoke", "a"], ["crl"], ["list"], ["verify", "a"], ["sign", "x.csr"],
    ])
    func failedCommandOnAFreshMachineCreatesNoPKI(arguments: [String]) throws {
        let ws = try Workspace()
        let result = try ws.certtool(arguments)
        #expect(result.status == 2, "\(arguments): \(result.output)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: ws.pki), "\(arguments) left a pki/ behind")
    }

    @Test func caKeyThatDoesNotMatchItsCertificate() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--san", "web.example.internal"])
        let other = try ws.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        try ws.write("pki/private/ca.key", other.stdout)
        let before = ws.snapshot()
        for arguments in [["issue", "db", "--san", "db.example.internal"], ["crl"], ["revoke", "web"]] {
            let result = try ws.certtool(arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains("the CA private key does not match the CA certificate"), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
        #expect(ws.snapshot() == before)
    }

    @Test func garbageAndTamperedCSRs() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--san", "web.example.internal"])
        try ws.write("garbage.csr", "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgcmVxdWVzdA==\n-----END CERTIFICATE REQUEST-----\n")
        try ws.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", "app.key", "-subj", "/CN=app", "-addext", "subjectAltName=DNS:app.example.internal",
                        "-outform", "DER", "-out", "app.der"])
        var der = try Data(contentsOf: URL(fileURLWithPath: ws.path("app.der")))
        der[der.count - 1] ^= 0x01  // the last byte belongs to the signature's s value
        try der.write(to: URL(fileURLWithPath: ws.path("tampered.der")))
        let before = ws.snapshot()
        let garbage = try ws.certtool(["sign", "garbage.csr"])
        #expect(garbage.status == 2)
        #expect(garbage.stderr.contains("garbage.csr is not a PKCS#10 certificate request"))
        let tampered = try ws.certtool(["sign", "tampered.der"])
        #expect(tampered.status == 2)
        #expect(tampered.stderr.contains("signature does not verify"))
        #expect(ws.snapshot() == before)
    }

    /// Hostile certificate requests and files: SANs a command line cannot carry (NUL, raw UTF-8), abuse the
    /// CSR signs correctly, truncated and garbage PEM and DER, a 4 MB request and 5,000-deep ASN.1.
    @Test func hostileRequestsAndFiles() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--san", "web.example.internal"])
        let hostile: [(String, SubjectAltName)] = [
            ("nul", .dns("a\u{0}b.example")), ("wildcards", .dns("*.*.example")),
            ("long-label", .dns(String(repeating: "a", count: 64) + ".example")),
            ("comma", .dns("a.example,DNS:evil.example")), ("space", .dns(" web.example.internal")),
            ("long-uri", .uri("spiffe://" + String(repeating: "a", count: 3000))), ("nul-email", .email("a\u{0}@b.example")),
        ]
        for (name, san) in hostile {
            let csr = try EnrollmentCSR.make(key: Certificate.PrivateKey(P256.Signing.PrivateKey()), subjectAltNames: [san], profile: .server)
            try ws.write("\(name).csr", try csr.serializeAsPEM().pemString)
        }
        // Raw UTF-8 in a dNSName, which swift-certificates will not even encode: openssl does.
        _ = try ws.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "utf8.key",
                            "-subj", "/CN=u", "-addext", "subjectAltName=DNS:bücher.example", "-out", "utf8.csr"])
        let cert = try ws.read("pki/issued/web.crt")
        try ws.write("truncated.pem", String(cert.prefix(cert.count / 2)))
        try ws.write("no-end.pem", cert.replacingOccurrences(of: "-----END CERTIFICATE-----", with: ""))
        _ = try ws.openssl(["x509", "-in", "pki/issued/web.crt", "-outform", "DER", "-out", "web.der"])
        let der = try Data(contentsOf: URL(fileURLWithPath: ws.path("web.der")))
        try der.prefix(der.count - 10).write(to: URL(fileURLWithPath: ws.path("truncated.der")))
        try Data((0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(to: URL(fileURLWithPath: ws.path("huge.csr")))
        try Data(Array(repeating: [UInt8(0x30), 0x80], count: 5000).joined()).write(to: URL(fileURLWithPath: ws.path("deep.der")))
        let before = ws.snapshot()

        var cases: [[String]] = (hostile.map(\.0) + ["utf8"]).map { ["sign", "\($0).csr", "--name", "x"] }
        cases += [["sign", "huge.csr"], ["sign", "deep.der"], ["sign", "truncated.pem"]]
        cases += ["truncated.pem", "no-end.pem", "truncated.der", "deep.der", "huge.csr"].flatMap { [["show", $0], ["verify", $0]] }
        for arguments in cases {
            let result = try ws.certtool(arguments)
            #expect(result.status == 2, "\(arguments): \(result.output)")
            #expect(result.stderr.hasPrefix("certtool: error: ") && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
        }
        #expect(ws.snapshot() == before)

        // `show` says when a SAN extension does not decode, and only then (a CA certificate has none at all).
        _ = try ws.openssl(["req", "-x509", "-new", "-key", "utf8.key", "-subj", "/CN=u", "-addext", "subjectAltName=DNS:bücher.example",
                            "-days", "1", "-out", "utf8.crt"])
        #expect(try ws.ok(["show", "utf8.crt"]).stdout.contains("(malformed subjectAltName extension)"))
        let ca = try ws.ok(["show", "pki/ca.crt"]).stdout
        #expect(!ca.contains("malformed"), "\(ca)")
    }
}
