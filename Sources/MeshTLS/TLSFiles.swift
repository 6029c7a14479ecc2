import MeshCA
import MeshPlatform
import NIOSSL
import X509

/// Reading TLS material from disk with errors that name the file and the problem.
public enum TLSFiles {
    public static func read(_ path: String, what: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MeshCAError.invalidInput("cannot read \(what) '\(path)': no such file or not readable")
        }
        return Array(data)
    }

    /// A PEM certificate chain for NIOSSL, leaf first.
    public static func certificateChain(_ path: String) throws -> [NIOSSLCertificate] {
        let bytes = try read(path, what: "certificate")
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(bytes)
            guard !chain.isEmpty else { throw MeshCAError.invalidInput("\(path) holds no PEM certificate") }
            return chain
        } catch let error as MeshCAError {
            throw error
        } catch {
            throw MeshCAError.invalidInput("\(path) is not a PEM certificate chain: \(error)")
        }
    }

    public static func privateKey(_ path: String) throws -> NIOSSLPrivateKey {
        let bytes = try read(path, what: "private key")
        do {
            return try NIOSSLPrivateKey(bytes: bytes, format: .pem)
        } catch {
            throw MeshCAError.invalidInput("\(path) is not a PEM private key")
        }
    }

    /// Trust anchors as swift-certificates values (every certificate in the PEM bundle).
    public static func trustAnchors(_ path: String) throws -> [Certificate] {
        try PEMFiles.certificates(bytes: read(path, what: "CA bundle"), source: path)
    }
}
