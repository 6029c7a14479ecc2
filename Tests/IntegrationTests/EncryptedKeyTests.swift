import Foundation
import SwiftASN1
import Testing

/// `certtool init --encrypt-key`: the CA keys as encrypted PKCS#8 that openssl reads, the passphrase from a
/// file, a variable or a prompt, and clear refusals without it.
@Suite struct EncryptedKeyTests {
    static let answerPrompts = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/answer_prompts.py").path

    @Test func encryptedCAKeysWorkWithEveryPassphraseSourceAndRefuseWithoutOne() throws {
        let ws = try Workspace()
        try ws.write("pass", "correct horse\n")
        try ws.write("wrong", "battery staple\n")
        try ws.ok(["init", "--intermediate", "--encrypt-key", "--passphrase-file", "pass"])
        for key in ["ca", "intermediate"] {
            #expect(try PEMDocument(pemString: ws.read("pki/private/\(key).key")).discriminator == "ENCRYPTED PRIVATE KEY")
            #expect(try ws.mode("pki/private/\(key).key") == 0o600)
            #expect(try ws.openssl(["pkey", "-in", "pki/private/\(key).key", "-passin", "file:pass", "-noout"]).status == 0)
            #expect(try ws.openssl(["pkey", "-in", "pki/private/\(key).key", "-passin", "pass:nope", "-noout"]).status != 0)
        }
        let parameters = try ws.openssl(["asn1parse", "-in", "pki/private/ca.key"]).stdout
        #expect(parameters.contains("PBES2") && parameters.contains("PBKDF2") && parameters.contains("aes-256-cbc"))
        #expect(parameters.contains("hmacWithSHA256") && parameters.contains("INTEGER           :033450"), "210,000 rounds: \(parameters)")

        // Without the passphrase, or with a wrong one: one line, exit 2, nothing written.
        let before = ws.snapshot()
        let missing = try ws.certtool(["issue", "web", "--san", "DNS:web.example.internal"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "certtool: error: \(ws.pki)/private/ca.key is encrypted: give --passphrase-file FILE or --passphrase-env VAR (or run on a terminal to be asked)\n")
        let wrong = try ws.certtool(["issue", "web", "--san", "DNS:web.example.internal", "--passphrase-file", "wrong"])
        #expect(wrong.status == 2)
        #expect(wrong.stderr == "certtool: error: wrong passphrase for \(ws.pki)/private/ca.key\n", "\(wrong.stderr)")
        #expect(ws.snapshot() == before)

        // From a file, a variable, and a terminal prompt.
        try ws.ok(["issue", "web", "--san", "DNS:web.example.internal", "--passphrase-file", "pass"])
        let fromEnv = try ws.certtool(["revoke", "web", "--passphrase-env", "CA_PASS"], environment: ["CA_PASS": "correct horse"])
        #expect(fromEnv.status == 0, "\(fromEnv.output)")
        let prompted = try Command.run(
            "python3", [Self.answerPrompts, "correct horse", Workspace.certtoolPath, "issue", "api", "--san", "DNS:api.example.internal", "--pki", ws.pki],
            directory: ws.url)
        #expect(prompted.status == 0 && prompted.stdout.contains("Passphrase for"), "\(prompted.output)")
        #expect(try ws.openssl(["verify", "-CAfile", "pki/ca.crt", "-untrusted", "pki/intermediate.crt", "pki/issued/api.crt"]).status == 0)

        // The CA server asks once, at start.
        let ca = try CAServerFixture(["--passphrase-file", "pass"], ws: ws, skipInit: true)
        #expect(try ca.curl("/healthz").body == "ok")
    }

    /// A CA key the operator encrypted with openssl: every PBES2 variant OpenSSL 3 writes is read, legacy
    /// schemes and other ciphers are refused in one line naming the file.
    @Test func keysEncryptedByOpenSSLAreReadAndLegacySchemesRefused() throws {
        let ws = try Workspace()
        try ws.write("pass", "correct horse\n")
        try ws.ok(["init"])
        let plain = try ws.read("pki/private/ca.key")
        try ws.write("plain.key", plain)
        let readable = [
            ["-v2", "aes-256-cbc"],  // OpenSSL's default: PBKDF2-HMAC-SHA256, 2,048 rounds
            ["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"],
            ["-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512", "-iter", "1000"],
            ["-scrypt"],
        ]
        for (index, options) in readable.enumerated() {
            let made = try ws.openssl(["pkcs8", "-topk8", "-in", "plain.key", "-passout", "file:pass", "-out", "pki/private/ca.key"] + options)
            #expect(made.status == 0, "\(made.output)")
            let issued = try ws.certtool(["issue", "web\(index)", "--san", "DNS:web.example.internal", "--passphrase-file", "pass"])
            #expect(issued.status == 0, "\(options): \(issued.output)")
            #expect(try ws.openssl(["verify", "-CAfile", "pki/ca.crt", "pki/issued/web\(index).crt"]).status == 0)
        }
        for (options, reason) in [
            (["-v1", "PBE-SHA1-3DES"], "the key is encrypted with 1.2.840.113549.1.12.1.3, not PBES2"),
            (["-v2", "des-ede3-cbc"], "the key is encrypted with 1.2.840.113549.3.7, not AES-CBC"),
        ] {
            #expect(try ws.openssl(["pkcs8", "-topk8", "-in", "plain.key", "-passout", "file:pass", "-out", "pki/private/ca.key"] + options).status == 0)
            let before = ws.snapshot()
            let refused = try ws.certtool(["issue", "legacy", "--san", "DNS:web.example.internal", "--passphrase-file", "pass"])
            #expect(refused.status == 2)
            #expect(refused.stderr == "certtool: error: \(ws.pki)/private/ca.key: \(reason): re-encrypt it with 'openssl pkcs8 -topk8 -v2 aes-256-cbc'\n", "\(refused.stderr)")
            #expect(ws.snapshot() == before)
        }
    }

    @Test func encryptingNeedsAPassphraseSourceAndConfirmsAPromptedOne() throws {
        let ws = try Workspace()
        let none = try ws.certtool(["init", "--encrypt-key"])
        #expect(none.status == 2 && none.stderr.contains("--encrypt-key needs --passphrase-file"))
        #expect(!FileManager.default.fileExists(atPath: ws.pki))
        let prompted = try Command.run(
            "python3", [Self.answerPrompts, "typed twice", Workspace.certtoolPath, "init", "--encrypt-key", "--pki", ws.pki], directory: ws.url)
        #expect(prompted.status == 0 && prompted.stdout.contains("Again: "), "\(prompted.output)")
        #expect(try ws.openssl(["pkey", "-in", "pki/private/ca.key", "-passin", "pass:typed twice", "-noout"]).status == 0)
    }
}
