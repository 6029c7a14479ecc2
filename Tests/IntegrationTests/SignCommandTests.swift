import Foundation
import Testing

@Suite struct SignCommandTests {
    /// Makes a CSR the way DESIGN.md §3 tells users to.
    func makeRequest(_ ws: Workspace, cn: String, san: String, der: Bool, key: [String] = ["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]) throws -> String {
        let file = der ? "\(cn).der" : "\(cn).csr"
        let result = try ws.openssl(["req", "-new", "-newkey"] + key + ["-nodes", "-keyout", "\(cn).key", "-subj", "/CN=\(cn)",
                                     "-addext", "subjectAltName=\(san)", "-outform", der ? "DER" : "PEM", "-out", file])
        #expect(result.status == 0, "\(result.stderr)")
        return file
    }

    @Test(arguments: [false, true])
    func signsPEMAndDERRequestsWithTheirRequestedSANs(der: Bool) throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        let csr = try makeRequest(ws, cn: "app.example.internal", san: "DNS:app.example.internal,IP:10.0.0.9", der: der)
        let result = try ws.ok(["sign", csr, "--client"])
        #expect(result.stdout.contains("issued app.example.internal"))
        let text = try ws.openssl(["x509", "-in", "pki/issued/app.example.internal.crt", "-noout", "-text"]).stdout
        #expect(text.contains("DNS:app.example.internal, IP Address:10.0.0.9"))
        #expect(text.contains("TLS Web Client Authentication"))
        // The CA never saw the key: no key is stored, and the certificate matches the requester's key.
        #expect(!FileManager.default.fileExists(atPath: "\(ws.pki)/private/app.example.internal.key"))
        let certKey = try ws.openssl(["x509", "-in", "pki/issued/app.example.internal.crt", "-noout", "-pubkey"]).stdout
        let ownKey = try ws.openssl(["pkey", "-in", "app.example.internal.key", "-pubout"]).stdout
        #expect(certKey == ownKey)
        #expect(try ws.openssl(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "pki/ca.crt",
                                "pki/issued/app.example.internal.crt"]).status == 0)
    }

    @Test func sanOverrideAndNameOption() throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        let csr = try makeRequest(ws, cn: "requested", san: "DNS:asked-for.example.internal", der: false)
        try ws.ok(["sign", csr, "--name", "granted", "--san", "DNS:granted.example.internal"])
        let text = try ws.openssl(["x509", "-in", "pki/issued/granted.crt", "-noout", "-ext", "subjectAltName"]).stdout
        #expect(text.contains("DNS:granted.example.internal"))
        #expect(!text.contains("asked-for"))
    }

    @Test func rsaRequestGetsKeyEncipherment() throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        let csr = try makeRequest(ws, cn: "rsa", san: "DNS:rsa.example.internal", der: false, key: ["rsa:2048"])
        try ws.ok(["sign", csr])
        let ku = try ws.openssl(["x509", "-in", "pki/issued/rsa.crt", "-noout", "-ext", "keyUsage"]).stdout
        #expect(ku.contains("Digital Signature, Key Encipherment"))
    }

    @Test func weakRSAAndRequestsWithoutSANsAreRefused() throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        let weak = try makeRequest(ws, cn: "weak", san: "DNS:weak.example.internal", der: false, key: ["rsa:1024"])
        let result = try ws.certtool(["sign", weak])
        #expect(result.status == 2)
        #expect(result.stderr.contains("unsupported or too weak key"))
        try ws.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", "nosan.key", "-subj", "/CN=nosan", "-out", "nosan.csr"])
        let noSAN = try ws.certtool(["sign", "nosan.csr"])
        #expect(noSAN.status == 2)
        #expect(noSAN.stderr.contains("requests no subjectAltName"))
    }
}
