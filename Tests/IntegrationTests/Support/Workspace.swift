import Foundation
import MeshCA
import SwiftASN1
import X509

/// A temporary directory holding one test's pki/ and scratch files, removed when the test ends.
final class Workspace {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("certtool-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    var pki: String { path("pki") }

    func path(_ relative: String) -> String { url.appendingPathComponent(relative).path }

    /// Runs `certtool ARGS --pki <this pki>`.
    @discardableResult
    func certtool(_ arguments: [String], usePKIFlag: Bool = true, environment: [String: String] = [:]) throws -> CommandResult {
        try Command.run(Self.certtoolPath, arguments + (usePKIFlag ? ["--pki", pki] : []),
                        environment: environment, directory: url)
    }

    /// Like `certtool` but requires exit status 0.
    @discardableResult
    func ok(_ arguments: [String]) throws -> CommandResult {
        let result = try certtool(arguments)
        guard result.status == 0 else {
            throw TestFailure("certtool \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.output)")
        }
        return result
    }

    @discardableResult
    func openssl(_ arguments: [String], input: Data? = nil) throws -> CommandResult {
        try Command.run("openssl", arguments, input: input, directory: url)
    }

    func read(_ relative: String) throws -> String { try String(contentsOfFile: path(relative), encoding: .utf8) }
    /// Whether the CA's journal holds no records: absent, truncated, or emptied (its first byte zeroed).
    func journalIsEmpty() -> Bool { FileManager.default.contents(atPath: path("pki/journal"))?.first.map { $0 == 0 } ?? true }

    func write(_ relative: String, _ text: String) throws {
        try text.write(toFile: path(relative), atomically: true, encoding: .utf8)
    }

    /// Every file under pki/ with its contents, to prove a failed command wrote nothing.
    func snapshot() -> [String: Data] {
        var files: [String: Data] = [:]
        guard let enumerator = FileManager.default.enumerator(atPath: pki) else { return files }
        while let relative = enumerator.nextObject() as? String {
            files[relative] = FileManager.default.contents(atPath: "\(pki)/\(relative)") ?? Data()
        }
        return files
    }

    func mode(_ relative: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path(relative))[.posixPermissions] as! NSNumber).intValue
    }

    /// The built `certtool`.
    static let certtoolPath = builtProduct("certtool")
    /// The built `scrape-sidecar`.
    static let sidecarPath = builtProduct("scrape-sidecar")

    /// A product next to the test bundle in the build directory.
    static func builtProduct(_ name: String) -> String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return name
    }
}

extension Workspace {
    /// A certificate file's serial as openssl prints it (upper-case hex).
    func serial(_ certificate: String) throws -> String {
        try openssl(["x509", "-in", certificate, "-noout", "-serial"]).stdout
            .replacingOccurrences(of: "serial=", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The serials of the certificates in pki/packs/ (what `certtool serve` signed), in order. openssl must read
    /// exactly as many certificates from each pack: nothing torn or extra between them.
    func packedSerials() throws -> [String] {
        let packs = try FileManager.default.contentsOfDirectory(atPath: path("pki/packs")).sorted()
        return try packs.flatMap { pack in
            let certificates = try PEMDocument.parseMultiple(pemString: read("pki/packs/\(pack)")).map(Certificate.init(pemDocument:))
            let found = try openssl(["storeutl", "-noout", "-certs", "pki/packs/\(pack)"])
            guard found.status == 0, found.stdout.contains("Total found: \(certificates.count)\n") else {
                throw TestFailure("openssl read pki/packs/\(pack) differently (\(certificates.count) certificates): \(found.output)")
            }
            return certificates.map(\.serialNumber.hexString)
        }
    }

    /// A certificate file's notAfter.
    func notAfter(_ certificate: String) throws -> Date { try Certificate(pemEncoded: read(certificate)).notValidAfter }
}

extension CommandResult {
    /// Standard output split into lines.
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }
}
