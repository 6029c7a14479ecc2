import Foundation
import Testing

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
        (["crl", "--next-update", "soon"], "invalid validity 'soon'"),
        (["show", "missing"], "'missing' is neither a file nor a certificate name"),
        (["verify", "web", "--purpose", "email"], "unknown purpose 'email'"),
        (["verify", "web", "--at", "tomorrow"], "invalid time 'tomorrow'"),
        (["sign", "does-not-exist.csr"], "cannot read certificate request 'does-not-exist.csr'"),
        (["init", "--key-type", "rsa-1024"], "unknown key type 'rsa-1024'"),
        (["issue", "a", "extra", "--san", "a.example"], "Unexpected argument 'extra'"),
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
}
