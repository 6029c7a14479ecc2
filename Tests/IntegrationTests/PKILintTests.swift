import Foundation
import Testing

/// pkilint must report nothing at WARNING or above, except its two known false positives (DESIGN.md §3).
@Suite struct PKILintTests {
    static let knownFalsePositives = ["pkix.invalid_uri_syntax", "pkix.invalid_domain_name_syntax"]

    /// Lints a PEM file; returns the findings that are not known false positives.
    func lint(_ ws: Workspace, _ pemFile: String, crl: Bool = false) throws -> [String] {
        let der = "\(pemFile).der"
        let converted = try ws.openssl([crl ? "crl" : "x509", "-in", pemFile, "-outform", "DER", "-out", der])
        #expect(converted.status == 0)
        let result = crl
            ? try Command.run("lint_crl", ["lint", "-t", "CRL", "-p", "PKIX", "-s", "WARNING", ws.path(der)])
            : try Command.run("lint_pkix_cert", ["lint", "-s", "WARNING", ws.path(der)])
        let findings = result.stdout.split(separator: "\n").filter { $0.contains("(") && $0.contains("):") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(result.status == 0 || !findings.isEmpty, "pkilint failed to run: \(result.output)")
        return findings.filter { finding in !Self.knownFalsePositives.contains { finding.hasPrefix($0) } }
    }

    @Test(arguments: OpenSSLInteropTests.keyTypes)
    func certificatesAndCRLAreClean(keyType: String) throws {
        let ws = try Workspace()
        try ws.ok(["init", "--key-type", keyType, "--intermediate"])
        try ws.ok(["issue", "server", "--server", "--key-type", keyType, "--san", "web.example.internal", "--san", "IP:10.0.0.7"])
        try ws.ok(["issue", "client", "--client", "--key-type", keyType, "--san", "spiffe://cluster.local/ns/mon/sa/prom",
                   "--san", "prom@example.internal"])
        try ws.ok(["issue", "both", "--both", "--key-type", keyType, "--san", "localhost", "--san", "IP:::1"])
        try ws.ok(["revoke", "client", "--reason", "keyCompromise"])
        for file in ["pki/ca.crt", "pki/intermediate.crt", "pki/issued/server.crt", "pki/issued/client.crt", "pki/issued/both.crt"] {
            #expect(try lint(ws, file) == [], "\(keyType) \(file)")
        }
        #expect(try lint(ws, "pki/crl.pem", crl: true) == [], "\(keyType) CRL")
    }

    @Test func knownFalsePositivesAreTheOnlyFindings() throws {
        // Proves the filter above is not hiding everything: these SANs do trigger the two known findings.
        let ws = try Workspace()
        try ws.ok(["issue", "odd", "--san", "localhost", "--san", "spiffe://cluster.local/x"])
        try ws.openssl(["x509", "-in", "pki/issued/odd.crt", "-outform", "DER", "-out", "odd.der"])
        let raw = try Command.run("lint_pkix_cert", ["lint", "-s", "WARNING", ws.path("odd.der")]).stdout
        #expect(raw.contains("pkix.invalid_uri_syntax"))
        #expect(raw.contains("pkix.invalid_domain_name_syntax"))
        #expect(try lint(ws, "pki/issued/odd.crt") == [])
    }
}
