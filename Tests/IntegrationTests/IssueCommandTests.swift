import Foundation
import SwiftASN1
import Testing

@Suite struct IssueCommandTests {
    @Test func firstIssueCreatesTheCAAndWritesTheLayout() throws {
        let ws = try Workspace()
        let result = try ws.ok(["issue", "web", "--san", "DNS:web.example.internal", "--san", "IP:10.0.0.7"])
        #expect(result.stdout.contains("created"))
        for file in ["ca.crt", "private/ca.key", "issued/web.crt", "private/web.key", "index.txt", "index.txt.attr"] {
            #expect(FileManager.default.fileExists(atPath: "\(ws.pki)/\(file)"), "missing \(file)")
        }
        #expect(try ws.mode("pki/private") == 0o700)
        #expect(try ws.mode("pki/private/ca.key") == 0o600)
        #expect(try ws.mode("pki/private/web.key") == 0o600)
        #expect(try PEMDocument(pemString: ws.read("pki/private/web.key")).discriminator == "PRIVATE KEY")
        let rows = try ws.read("pki/index.txt").split(separator: "\n")
        #expect(rows.count == 1)
        #expect(rows[0].hasPrefix("V\t") && rows[0].hasSuffix("\tunknown\t/CN=web"))

        // A second issue reuses the CA rather than creating another.
        let caBefore = try ws.read("pki/ca.crt")
        let second = try ws.ok(["issue", "db", "--san", "db.example.internal"])
        #expect(!second.stdout.contains("created"))
        #expect(try ws.read("pki/ca.crt") == caBefore)
    }

    @Test func barSANsAreTypedByShapeAndEncodedAsTheirType() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "mixed", "--san", "10.1.2.3", "--san", "fd00::7", "--san", "spiffe://cluster.local/ns/a/sa/b",
                   "--san", "ops@example.internal", "--san", "Web.Example.Internal"])
        let text = try ws.openssl(["x509", "-in", "pki/issued/mixed.crt", "-noout", "-ext", "subjectAltName"]).stdout
        #expect(text.contains("IP Address:10.1.2.3"))
        #expect(text.contains("IP Address:FD00:0:0:0:0:0:0:7"))
        #expect(text.contains("URI:spiffe://cluster.local/ns/a/sa/b"))
        #expect(text.contains("email:ops@example.internal"))
        #expect(text.contains("DNS:web.example.internal"))
        #expect(!text.contains("DNS:10.1.2.3"))
    }

    @Test(arguments: [
        ("--server", "TLS Web Server Authentication", "TLS Web Client Authentication"),
        ("--client", "TLS Web Client Authentication", "TLS Web Server Authentication"),
    ])
    func profileSetsTheExtendedKeyUsage(flag: String, present: String, absent: String) throws {
        let ws = try Workspace()
        try ws.ok(["issue", "leaf", flag, "--san", "leaf.example.internal"])
        let eku = try ws.openssl(["x509", "-in", "pki/issued/leaf.crt", "-noout", "-ext", "extendedKeyUsage"]).stdout
        #expect(eku.contains(present))
        #expect(!eku.contains(absent))
    }

    @Test func bothProfileAndDefaultProfile() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "both", "--both", "--san", "both.example.internal"])
        try ws.ok(["issue", "plain", "--san", "plain.example.internal"])
        let both = try ws.openssl(["x509", "-in", "pki/issued/both.crt", "-noout", "-ext", "extendedKeyUsage"]).stdout
        #expect(both.contains("TLS Web Server Authentication") && both.contains("TLS Web Client Authentication"))
        let plain = try ws.openssl(["x509", "-in", "pki/issued/plain.crt", "-noout", "-ext", "extendedKeyUsage"]).stdout
        #expect(plain.contains("TLS Web Server Authentication") && !plain.contains("Client"))
    }

    @Test func forceReplacesAndRevokedNamesMayBeReissued() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--san", "web.example.internal"])
        let first = try ws.read("pki/issued/web.crt")
        try ws.ok(["issue", "web", "--san", "web.example.internal", "--force"])
        #expect(try ws.read("pki/issued/web.crt") != first)
        try ws.ok(["revoke", "web"])
        try ws.ok(["issue", "web", "--san", "web.example.internal"])
        #expect(try ws.read("pki/index.txt").split(separator: "\n").count == 3)
    }

    /// issued/NAME.crt of a root-signed leaf is a second link to certs_by_serial/SERIAL.pem (one inode, and a
    /// re-issue frees no blocks); a re-issue must leave the old serial's file as it was.
    @Test func issuedFileSharesItsInodeWithTheSerialsFileAndHistoryStays() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--san", "web.example.internal"])
        let firstPEM = try ws.read("pki/issued/web.crt")
        let firstSerial = try serial(ws, "web")
        #expect(try inode(ws, "pki/issued/web.crt") == inode(ws, "pki/certs_by_serial/\(firstSerial).pem"))
        try ws.ok(["issue", "web", "--san", "web.example.internal", "--force"])
        let secondSerial = try serial(ws, "web")
        #expect(secondSerial != firstSerial)
        #expect(try ws.read("pki/certs_by_serial/\(firstSerial).pem") == firstPEM)
        #expect(try ws.read("pki/issued/web.crt") == ws.read("pki/certs_by_serial/\(secondSerial).pem"))
        #expect(try inode(ws, "pki/issued/web.crt") == inode(ws, "pki/certs_by_serial/\(secondSerial).pem"))

        // Under an intermediate, issued/NAME.crt holds the chain: a file of its own.
        let chained = try Workspace()
        try chained.ok(["init", "--intermediate"])
        try chained.ok(["issue", "web", "--san", "web.example.internal"])
        let leafSerial = try serial(chained, "web")
        #expect(try inode(chained, "pki/issued/web.crt") != inode(chained, "pki/certs_by_serial/\(leafSerial).pem"))
        #expect(try chained.read("pki/issued/web.crt").hasPrefix(chained.read("pki/certs_by_serial/\(leafSerial).pem")))
    }

    private func serial(_ ws: Workspace, _ name: String) throws -> String {
        let shown = try ws.ok(["show", name, "--json"]).stdout
        let json = try JSONSerialization.jsonObject(with: Data(shown.utf8)) as! [String: Any]
        return (json["serial"] as! String).replacingOccurrences(of: ":", with: "").uppercased()
    }

    private func inode(_ ws: Workspace, _ relative: String) throws -> UInt64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: ws.path(relative))
        return (attributes[.systemFileNumber] as! NSNumber).uint64Value
    }

    @Test func pkiComesFromTheEnvironmentWhenNoFlagIsGiven() throws {
        let ws = try Workspace()
        let elsewhere = ws.path("from-env")
        let result = try ws.certtool(["issue", "web", "--san", "web.example.internal"], usePKIFlag: false,
                                     environment: ["CERTTOOL_PKI": elsewhere])
        #expect(result.status == 0)
        #expect(FileManager.default.fileExists(atPath: "\(elsewhere)/issued/web.crt"))
        #expect(!FileManager.default.fileExists(atPath: ws.pki))
    }

    @Test func validityAndJSONOutput() throws {
        let ws = try Workspace()
        let result = try ws.ok(["issue", "short", "--san", "short.example.internal", "--validity", "24h", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let certificate = object["certificate"] as! [String: Any]
        let formatter = ISO8601DateFormatter()
        let notBefore = formatter.date(from: certificate["notBefore"] as! String)!
        let notAfter = formatter.date(from: certificate["notAfter"] as! String)!
        // Back-dated by five minutes, valid for 24 hours from now.
        #expect(abs(notAfter.timeIntervalSince(notBefore) - (86_400 + 300)) < 5)
        #expect(object["keyFile"] as? String == "\(ws.pki)/private/short.key")
        #expect(object["createdCA"] as? Bool == true)
    }

    @Test func initChoosesOptionsAndRefusesToOverwrite() throws {
        let ws = try Workspace()
        try ws.ok(["init", "--name", "Team CA", "--key-type", "ecdsa-p384", "--validity", "5y", "--intermediate"])
        let root = try ws.openssl(["x509", "-in", "pki/ca.crt", "-noout", "-subject", "-text"]).stdout
        #expect(root.contains("CN = Team CA"))
        #expect(root.contains("NIST CURVE: P-384"))
        #expect(root.contains("ecdsa-with-SHA384"))
        try ws.ok(["issue", "web", "--san", "web.example.internal"])
        // The leaf is followed by the intermediate in issued/NAME.crt and was signed by it.
        let chain = try ws.read("pki/issued/web.crt")
        #expect(chain.components(separatedBy: "BEGIN CERTIFICATE").count == 3)
        let issuer = try ws.openssl(["x509", "-in", "pki/issued/web.crt", "-noout", "-issuer"]).stdout
        #expect(issuer.contains("Team CA Intermediate"))
        let again = try ws.certtool(["init"])
        #expect(again.status == 2)
        #expect(again.stderr.contains("already holds a CA"))
    }
}
