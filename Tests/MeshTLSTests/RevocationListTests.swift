import Foundation
import MeshCA
import Testing
import X509

/// CRLs made by certtool's encoder and by the openssl CLI are read back, and their signatures checked.
@Suite struct RevocationListTests {
    @Test func readsWhatTheEncoderWrites() throws {
        let key = try KeyType.ecdsaP256.generate()
        let root = try CertificateBuilder.root(commonName: "Root", key: key, validity: .init(seconds: 86_400))
        let ca = try SigningIdentity(certificate: root, privateKey: key, label: "CA")
        let crl = try CertificateRevocationList(
            issuer: ca, number: 7,
            entries: [.init(serial: [0x4A, 0x01], revocationDate: Date(), reason: .keyCompromise),
                      .init(serial: [0x80, 0x02], revocationDate: Date(), reason: nil)],
            thisUpdate: Date(), nextUpdate: Date() + 3600)
        let parsed = try RevocationList(bytes: Array(crl.pemString.utf8), issuers: [root], source: "crl.pem")
        #expect(parsed.number == 7)
        #expect(parsed.revokedSerials == ["4A01", "8002"])
        #expect(parsed.nextUpdate != nil)

        // Another CA's CRL, or a tampered one, is refused.
        let otherKey = try KeyType.ecdsaP256.generate()
        let other = try CertificateBuilder.root(commonName: "Root", key: otherKey, validity: .init(seconds: 86_400))
        #expect(throws: MeshCAError.self) { try RevocationList(bytes: crl.derBytes, issuers: [other], source: "crl") }
        var tampered = crl.derBytes
        tampered[tampered.count / 2] ^= 0x01
        #expect(throws: MeshCAError.self) { try RevocationList(bytes: tampered, issuers: [root], source: "crl") }
        #expect(throws: MeshCAError.self) { try RevocationList(bytes: Array("garbage".utf8), issuers: [root], source: "crl") }
    }

    @Test func readsAnOpenSSLMadeCRL() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func openssl(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "openssl \(arguments.joined(separator: " "))")
        }
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                     "-subj", "/CN=OpenSSL CA", "-days", "1", "-out", "ca.crt"])
        let config = "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=1\n"
        try config.write(toFile: "\(directory)/ca.cnf", atomically: true, encoding: .utf8)
        try "R\t300101000000Z\t260101000000Z,keyCompromise\t1234ABCD\tunknown\t/CN=gone\n"
            .write(toFile: "\(directory)/index.txt", atomically: true, encoding: .utf8)
        try "05\n".write(toFile: "\(directory)/crlnumber", atomically: true, encoding: .utf8)
        try openssl(["ca", "-config", "ca.cnf", "-gencrl", "-keyfile", "ca.key", "-cert", "ca.crt", "-out", "crl.pem"])
        let roots = try PEMFiles.certificates(try String(contentsOfFile: "\(directory)/ca.crt", encoding: .utf8), source: "ca.crt")
        let parsed = try RevocationList(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/crl.pem"))),
                                        issuers: roots, source: "crl.pem")
        #expect(parsed.revokedSerials == ["1234ABCD"])
        #expect(parsed.number == 5)
    }
}
