import MeshPlatform
import SwiftASN1
import X509

/// Reading and writing certificates as PEM (or DER) files.
public enum PEMFiles {
    /// Every certificate in a PEM bundle, in order; throws when there is none or one is malformed.
    public static func certificates(_ pem: String, source: String) throws -> [Certificate] {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: pem).filter { $0.discriminator == "CERTIFICATE" }
        } catch {
            throw MeshCAError.invalidInput("\(source) is not valid PEM: expected -----BEGIN CERTIFICATE----- blocks")
        }
        guard !documents.isEmpty else {
            throw MeshCAError.invalidInput("\(source) holds no certificate: expected -----BEGIN CERTIFICATE-----")
        }
        return try documents.map { document in
            do {
                return try Certificate(derEncoded: document.derBytes)
            } catch {
                throw MeshCAError.invalidInput("\(source) holds a malformed certificate: \(error)")
            }
        }
    }

    /// Certificates from file contents that are either PEM or a single DER certificate.
    public static func certificates(bytes: [UInt8], source: String) throws -> [Certificate] {
        if bytes.containsPEMBoundary {
            return try certificates(String(decoding: bytes, as: UTF8.self), source: source)
        }
        do {
            return [try Certificate(derEncoded: bytes)]
        } catch {
            throw MeshCAError.invalidInput("\(source) is neither a PEM nor a DER certificate")
        }
    }
}

extension Certificate {
    /// `-----BEGIN CERTIFICATE-----` PEM with a trailing newline (RFC 7468: 64-character lines). Foundation's
    /// base64 encoder does the line breaks: swift-asn1's `PEMDocument.pemString` walks String indices per
    /// line, a visible share of an enrollment server's commit thread.
    public func pemString() throws -> String {
        let body = Data(try derBytes).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN CERTIFICATE-----\n\(body)\n-----END CERTIFICATE-----\n"
    }
}

extension Array where Element == UInt8 {
    /// Whether the bytes hold `-----BEGIN`, i.e. are PEM rather than DER or base64. Searched on the bytes:
    /// Foundation's `String.contains(_:)` cost ≈ 65,000 instructions on a 600-byte EST request.
    var containsPEMBoundary: Bool {
        let boundary: [UInt8] = Array("-----BEGIN".utf8)
        guard count >= boundary.count else { return false }
        return withUnsafeBufferPointer { bytes in
            for start in 0...(bytes.count - boundary.count) where bytes[start] == UInt8(ascii: "-") {
                if bytes[start..<start + boundary.count].elementsEqual(boundary) { return true }
            }
            return false
        }
    }
}
