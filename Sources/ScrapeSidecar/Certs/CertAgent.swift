import Logging
import MeshCA
import MeshPlatform
import MeshTLS
import X509

/// Keeps a key and certificate from `certtool serve` in an output directory: enrolls with a one-time token,
/// renews over mutual TLS at two thirds of each lifetime (with jitter), and retries with capped exponential
/// backoff while the CA cannot be reached, leaving the current set in place meanwhile.
final class CertAgent: Sendable {
    enum TokenSource: Sendable {
        case file(String)
        case environment(String)

        func read() throws -> String {
            switch self {
            case .file(let path):
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw MeshCAError.invalidInput("cannot read the token file '\(path)'")
                }
                return String(text.trimming(while: \.isWhitespace))
            case .environment(let name):
                guard let value = environmentVariable(name), !value.isEmpty else {
                    throw MeshCAError.invalidInput("the environment variable \(name) holds no token")
                }
                return String(value.trimming(while: \.isWhitespace))
            }
        }
    }

    struct Settings: Sendable {
        var client: ESTClient
        var token: TokenSource?
        var subjectAltNames: [SubjectAltName]
        var profile: Profile
        var output: OutputDirectory
        var rotateKey: Bool
        /// Longest wait between two attempts while the CA is unreachable.
        var maximumBackoff: Duration = .seconds(30)
    }

    let settings: Settings
    let logger: Logger

    init(_ settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    private var output: OutputDirectory { settings.output }

    /// A usable set in the output directory: the one an earlier run left when it still fits (same SANs, not
    /// expired); an expired one renewed over mTLS when the CA still allows it (`--renew-expired-within`: the
    /// token was spent on the first enrollment); otherwise a new enrollment with the token. Retries while the
    /// CA is unreachable; a refusal (bad or used token, SAN not granted) is thrown.
    func ensureIdentity() async throws -> (contents: OutputDirectory.Contents, wrote: Bool) {
        var renewalRefusal: String?
        if let current = output.load(), Set(current.certificate.subjectAltNames) == Set(settings.subjectAltNames) {
            if current.certificate.notValidAfter > Date() {
                logger.notice("using the certificate already in the output directory", metadata: metadata(current))
                return (current, false)
            }
            do {
                let renewed = try await retryingWhileUnreachable("renew the expired certificate") { try await self.renew(current) }
                logger.notice("renewed the expired certificate left in the output directory", metadata: metadata(renewed))
                return (renewed, true)
            } catch let refused as ESTClient.Refused {
                renewalRefusal = "the CA refused to renew the expired certificate in \(output.path) (HTTP \(refused.status)): \(refused.message)"
            }
        }
        guard let tokenSource = settings.token else {
            throw MeshCAError.invalidInput(renewalRefusal.map { "\($0); give --token or --token-env to enroll again" }
                ?? "no valid certificate in \(output.path) and no --token or --token-env to enroll with")
        }
        if let renewalRefusal { logger.warning("\(renewalRefusal): enrolling with the token") }
        let token = try tokenSource.read()
        do {
            return (try await retryingWhileUnreachable("enroll") { try await self.enroll(token: token) }, true)
        } catch let refused as ESTClient.Refused {
            throw MeshCAError.invalidInput("enrollment refused by \(settings.client.baseURL) (HTTP \(refused.status)): \(refused.message)")
        }
    }

    /// Runs `body` until it succeeds or the CA answers with a refusal (a 4xx `ESTClient.Refused`, rethrown);
    /// unreachable CAs and 5xx answers are retried with backoff.
    private func retryingWhileUnreachable<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let refused as ESTClient.Refused where refused.status < 500 {
                throw refused
            } catch let error as MeshCAError {
                throw error
            } catch {
                attempt += 1
                let delay = backoff(attempt: attempt, expiresIn: nil)
                logger.warning("cannot reach the CA to \(what): retrying", metadata: [
                    "error": "\(error)", "retry_in": "\(delay)", "attempt": "\(attempt)"])
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Renews forever; `onRotate` runs after each new set is published.
    func maintain(from initial: OutputDirectory.Contents, onRotate: @escaping @Sendable (OutputDirectory.Contents) -> Void) async {
        var current = initial
        while !Task.isCancelled {
            let renewAt = renewalTime(current)
            logger.info("next renewal", metadata: ["at": "\(renewAt.iso8601)"])
            try? await Task.sleep(for: .seconds(max(0, renewAt.timeIntervalSinceNow)))
            var attempt = 0
            while !Task.isCancelled {
                do {
                    current = try await renew(current)
                    onRotate(current)
                    break
                } catch {
                    attempt += 1
                    let expiresIn = current.certificate.notValidAfter.timeIntervalSinceNow
                    let delay = backoff(attempt: attempt, expiresIn: expiresIn)
                    logger.log(level: error is ESTClient.Refused ? .error : .warning, "renewal failed: keeping the current certificate and retrying", metadata: [
                        "error": "\(error)", "retry_in": "\(delay)", "attempt": "\(attempt)",
                        "expires_in": "\(Int(expiresIn))s"])
                    try? await Task.sleep(for: delay)
                }
            }
        }
    }

    // The roots are fetched before the token is spent, so that nothing after the enrollment needs the CA.
    private func enroll(token: String) async throws -> OutputDirectory.Contents {
        let key = try KeyType.ecdsaP256.generate()
        let csr = try EnrollmentCSR.make(key: key, subjectAltNames: settings.subjectAltNames, profile: settings.profile)
        let roots = try await settings.client.caCertificates()
        let issued = try await settings.client.enroll(csr, token: token)
        return try await publish(issued: issued, key: key, roots: roots)
    }

    private func renew(_ current: OutputDirectory.Contents) async throws -> OutputDirectory.Contents {
        let key = settings.rotateKey ? try KeyType.ecdsaP256.generate() : current.key
        let csr = try EnrollmentCSR.make(key: key, subjectAltNames: current.certificate.subjectAltNames, profile: settings.profile)
        let roots = try await settings.client.caCertificates()
        let issued = try await settings.client.reenroll(
            csr, certificate: output.file(OutputDirectory.chainFile), key: output.file(OutputDirectory.keyFile))
        return try await publish(issued: issued, key: key, roots: roots)
    }

    /// Writes an issued set, retrying while the output directory refuses (disk full, read-only): the
    /// certificate is already issued — for a first enrollment its token is spent — so it is kept, not dropped.
    private func publish(issued: [Certificate], key: Certificate.PrivateKey, roots: [Certificate]) async throws -> OutputDirectory.Contents {
        let chain = try CertsOnlyPKCS7.orderedChain(issued, leafKey: key.publicKey)
        let selfSigned = roots.filter { $0.subject == $0.issuer }
        var attempt = 0
        while true {
            do {
                try output.write(roots: selfSigned.isEmpty ? roots : selfSigned, chain: chain, key: key)
                guard let contents = output.load() else {
                    throw MeshCAError.io("\(output.path) does not read back as a consistent set after writing it")
                }
                logger.notice("wrote a new certificate set", metadata: metadata(contents))
                print("wrote \(output.path): serial \(contents.certificate.serialNumber.hexString), expires \(contents.certificate.notValidAfter.iso8601)")
                fflush(stdout)
                return contents
            } catch {
                try Task.checkCancellation()
                attempt += 1
                let delay = backoff(attempt: attempt, expiresIn: chain[0].notValidAfter.timeIntervalSinceNow)
                logger.error("cannot write the new certificate set: keeping the current one and retrying", metadata: [
                    "error": "\(error)", "retry_in": "\(delay)", "attempt": "\(attempt)"])
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Two thirds into the lifetime, measured from publication (notBefore is back-dated), less up to 5% jitter
    /// so that many agents started together do not renew together.
    func renewalTime(_ contents: OutputDirectory.Contents) -> Date {
        let start = max(contents.certificate.notValidBefore, min(contents.publishedAt, Date()))
        let lifetime = contents.certificate.notValidAfter.timeIntervalSince(start)
        return start + lifetime * (2.0 / 3.0 - Double.random(in: 0...0.05))
    }

    /// 1 s, 2 s, 4 s … up to the cap, and never more than a quarter of the remaining lifetime (at least 1 s);
    /// once the certificate has expired, the cap alone (the CA renews it within its grace, if it is back).
    private func backoff(attempt: Int, expiresIn: TimeInterval?) -> Duration {
        var seconds = min(Double(1 << min(attempt - 1, 16)), Double(settings.maximumBackoff.components.seconds))
        if let expiresIn, expiresIn > 0 { seconds = min(seconds, max(1, expiresIn / 4)) }
        return .milliseconds(Int(seconds * 1000 * Double.random(in: 0.8...1.0)))
    }

    private func metadata(_ contents: OutputDirectory.Contents) -> Logger.Metadata {
        ["dir": "\(output.path)", "serial": "\(contents.certificate.serialNumber.hexString)",
         "not_after": "\(contents.certificate.notValidAfter.iso8601)"]
    }
}
