import Logging
import MeshCA
import MeshPlatform
import NIOCore
import NIOPosix
import X509

/// One HTTP request as the EST handler hands it over.
struct ESTRequest: Sendable {
    var method: String
    var path: String
    var query: [String: String]
    var authorization: String?
    var contentType: String?
    var body: [UInt8]
    /// The client certificate presented in the TLS handshake (not yet verified), if any.
    var clientCertificate: Certificate?
}

/// What to send back.
struct ESTResponse: Sendable {
    var status: Int
    var contentType: String
    var body: [UInt8]
    var headers: [(String, String)] = []

    static func text(_ status: Int, _ text: String, headers: [(String, String)] = []) -> ESTResponse {
        ESTResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array((text + "\n").utf8), headers: headers)
    }

    static func certsOnly(_ certificates: [Certificate]) throws -> ESTResponse {
        ESTResponse(
            status: 200, contentType: "application/pkcs7-mime; smime-type=certs-only",
            body: Array(CertsOnlyPKCS7.base64(try CertsOnlyPKCS7.encode(certificates)).utf8),
            headers: [("content-transfer-encoding", "base64")])
    }
}

/// The CA behind `certtool serve`: EST enrollment and re-enrollment, the roots, the CRL, health and metrics.
/// Store writes block (file locks, fsync), so they run on a thread pool, never on an event loop; issuances
/// are group-committed there by the `IssuanceQueue`. Checking and signing a re-enrollment runs on the event
/// loop: CPU work, the CA's files only `stat`ed (re-read when they change).
final class EnrollmentService: Sendable {
    struct Policy: Sendable {
        var defaultValidity: ValidityPeriod
        var maximumValidity: ValidityPeriod
        /// How long each published CRL is valid; a new one is published when half of that has passed.
        var crlValidity: ValidityPeriod
        /// How long after expiry a certificate may still be renewed over mTLS (its holder could not reach us).
        var renewExpiredWithin: TimeInterval = 0
    }

    let authority: CertificateAuthority
    let provisioner: Provisioner
    let policy: Policy
    let metrics: EnrollmentMetrics
    let logger: Logger
    let pool: NIOThreadPool
    let issuance: IssuanceQueue

    init(authority: CertificateAuthority, policy: Policy, metrics: EnrollmentMetrics, logger: Logger, pool: NIOThreadPool) throws {
        self.authority = authority
        self.provisioner = try authority.provisioner(create: true)
        self.policy = policy
        self.metrics = metrics
        self.logger = logger
        self.pool = pool
        self.issuance = IssuanceQueue(authority: authority, pool: pool, metrics: metrics, logger: logger)
    }

    private var directory: String { authority.store.location }

    /// Answers on `eventLoop`. A re-enrollment is checked and signed right there and completed from the commit
    /// thread (two thread hops); everything else runs as a task.
    func respond(to request: ESTRequest, on eventLoop: EventLoop) -> EventLoopFuture<ESTResponse> {
        if request.method == "POST" && request.path == "/.well-known/est/simplereenroll" {
            return reenroll(request, on: eventLoop)
        }
        let promise = eventLoop.makePromise(of: ESTResponse.self)
        promise.completeWithTask { await self.handle(request) }
        return promise.futureResult
    }

    /// Every request but a re-enrollment (see `respond`).
    private func handle(_ request: ESTRequest) async -> ESTResponse {
        switch (request.method, request.path) {
        case ("GET", "/.well-known/est/cacerts"):
            return await answer { try ESTResponse.certsOnly(try await self.blocking { try self.authority.loadAuthority().certificates }) }
        case ("POST", "/.well-known/est/simpleenroll"):
            return await enroll(request)
        case ("GET", "/roots.pem"):
            return await answer {
                let roots = try await self.blocking { try self.authority.loadAuthority().root.certificate }
                return ESTResponse(status: 200, contentType: "application/x-pem-file", body: Array(try roots.pemString().utf8))
            }
        case ("GET", "/crl.pem"):
            return await answer {
                let pem = try await self.blocking { try self.currentCRL() }
                return ESTResponse(status: 200, contentType: "application/x-pem-file", body: Array(pem.utf8))
            }
        case ("GET", "/healthz"):
            return .text(200, "ok")
        case ("GET", "/metrics"):
            return ESTResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.render())
        case (_, let path) where Self.routes.contains(path):
            return .text(405, "method \(request.method) not allowed on \(path)")
        default:
            return .text(404, "not found: EST lives under /.well-known/est/ (cacerts, simpleenroll, simplereenroll); also /roots.pem, /crl.pem, /healthz, /metrics")
        }
    }

    private static let routes: Set<String> = [
        "/.well-known/est/cacerts", "/.well-known/est/simpleenroll", "/.well-known/est/simplereenroll",
        "/roots.pem", "/crl.pem", "/healthz", "/metrics",
    ]

    // MARK: Enrollment

    private func enroll(_ request: ESTRequest) async -> ESTResponse {
        let started = ContinuousClock.now
        return await refusing(endpoint: "simpleenroll", started: started) {
            let csr = try Self.csr(request)
            let validity = try self.validity(request)
            guard let credential = Self.token(fromAuthorization: request.authorization) else {
                throw EnrollmentRefusal(.missingCredentials, "simpleenroll needs an enrollment token: send Authorization: Bearer TOKEN (from certtool token) or it as the Basic password")
            }
            let token = try await self.provisioner.verify(credential)
            let issued = try await self.issuance.submit(try self.authority.prepareEnrollment(csr, token: token, validity: validity))
            self.logger.notice("enrolled", metadata: Self.metadata(issued))
            return issued
        }
    }

    /// Checks and signs on the event loop; the commit thread completes the promise, and the answer is built back
    /// on the event loop (the commit thread only commits).
    private func reenroll(_ request: ESTRequest, on eventLoop: EventLoop) -> EventLoopFuture<ESTResponse> {
        let started = ContinuousClock.now
        let promise = eventLoop.makePromise(of: Result<CertificateAuthority.Issued, Error>.self)
        do {
            let csr = try Self.csr(request)
            let validity = try self.validity(request)
            guard let current = request.clientCertificate else {
                throw EnrollmentRefusal(.missingCredentials, "simplereenroll needs the current client certificate over mutual TLS")
            }
            let job = try authority.prepareRenewal(csr, current: current, validity: validity, expiredGrace: policy.renewExpiredWithin)
            issuance.submit(job) { promise.succeed($0) }
        } catch {
            promise.succeed(.failure(error))
        }
        return promise.futureResult.map { result in
            if case .success(let issued) = result { self.logger.notice("re-enrolled", metadata: Self.metadata(issued)) }
            return self.outcome(endpoint: "simplereenroll", result, started: started)
        }
    }

    /// Runs an enrollment, counting the outcome; refusals become their status and one-line reason.
    private func refusing(
        endpoint: String, started: ContinuousClock.Instant, _ body: @Sendable () async throws -> CertificateAuthority.Issued
    ) async -> ESTResponse {
        do {
            return outcome(endpoint: endpoint, .success(try await body()), started: started)
        } catch {
            return outcome(endpoint: endpoint, .failure(error), started: started)
        }
    }

    private func outcome(
        endpoint: String, _ result: Result<CertificateAuthority.Issued, Error>, started: ContinuousClock.Instant
    ) -> ESTResponse {
        defer { metrics.answered(endpoint: endpoint, since: started) }
        do {
            let issued = try result.get()
            metrics.issued(endpoint: endpoint)
            return try ESTResponse.certsOnly(issued.chain)
        } catch let refusal as EnrollmentRefusal {
            metrics.failed(endpoint: endpoint, reason: refusal.reason)
            logger.notice("enrollment refused", metadata: ["endpoint": "\(endpoint)", "reason": "\(refusal.reason)", "detail": "\(refusal.message)"])
            return .text(Self.status(refusal.kind), refusal.message, headers: refusal.kind == .missingCredentials ? [("www-authenticate", "Bearer")] : [])
        } catch MeshCAError.io(let detail) {
            // The CA's own storage failed (disk full, read-only): nothing was issued, the token is unspent, and
            // the client should retry later; the detail names server paths, so it goes to the log only.
            metrics.failed(endpoint: endpoint, reason: "storage")
            logger.error("enrollment failed: cannot store the certificate", metadata: ["endpoint": "\(endpoint)", "error": "\(detail)"])
            return .text(503, "the CA cannot store certificates right now: retry later", headers: [("retry-after", "30")])
        } catch let error as MeshCAError {
            let status = error.exitStatus == 2 ? 400 : 500
            metrics.failed(endpoint: endpoint, reason: status == 400 ? "bad_request" : "internal")
            logger.notice("enrollment failed", metadata: ["endpoint": "\(endpoint)", "detail": "\(error)"])
            return .text(status, error.description)
        } catch {
            metrics.failed(endpoint: endpoint, reason: "internal")
            logger.error("enrollment failed", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            return .text(500, "internal error: \(error)")
        }
    }

    private static func status(_ kind: EnrollmentRefusal.Kind) -> Int {
        switch kind {
        case .missingCredentials, .malformedToken, .badSignature, .expiredToken, .tokenNotYetValid, .reusedToken: return 401
        case .notGranted, .certificateRevoked, .certificateInvalid: return 403
        case .badRequest: return 400
        }
    }

    private static func metadata(_ issued: CertificateAuthority.Issued) -> Logger.Metadata {
        let summary = CertificateSummary(issued.certificate)
        return ["name": "\(issued.name)", "serial": "\(summary.serial)", "sans": "\(summary.subjectAltNames.joined(separator: ","))",
                "not_after": "\(summary.notAfter.iso8601)"]
    }

    private static func csr(_ request: ESTRequest) throws -> CertificateRequest {
        if let type = request.contentType?.lowercased(), !type.hasPrefix("application/pkcs10") {
            throw EnrollmentRefusal(.badRequest, "send the CSR as Content-Type: application/pkcs10 (base64 DER), not \(type)")
        }
        guard !request.body.isEmpty else { throw EnrollmentRefusal(.badRequest, "the request has no CSR: send a base64 DER PKCS#10 body") }
        do {
            return try CertificateRequestFile.parseRequest(request.body, source: "the request body")
        } catch let error as MeshCAError {
            throw EnrollmentRefusal(.badRequest, error.description)
        }
    }

    /// `?validity=` asks for a lifetime up to the server's maximum; the default otherwise.
    private func validity(_ request: ESTRequest) throws -> ValidityPeriod {
        guard let asked = request.query["validity"] else { return policy.defaultValidity }
        let validity: ValidityPeriod
        do { validity = try ValidityPeriod(parsing: asked) } catch let error as MeshCAError {
            throw EnrollmentRefusal(.badRequest, error.description)
        }
        guard validity.seconds <= policy.maximumValidity.seconds else {
            throw EnrollmentRefusal(.notGranted, "validity \(asked) exceeds this CA's maximum of \(policy.maximumValidity)")
        }
        return validity
    }

    /// `Bearer TOKEN`, or the password of `Basic base64(user:TOKEN)` (RFC 7030 §3.2.3 HTTP-based auth).
    static func token(fromAuthorization header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        switch parts[0].lowercased() {
        case "bearer":
            return String(parts[1].trimming(while: \.isWhitespace))
        case "basic":
            guard let data = Data(base64Encoded: String(parts[1].trimming(while: \.isWhitespace))),
                let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
            else { return nil }
            return String(text[text.index(after: colon)...])
        default:
            return nil
        }
    }

    // MARK: CRL

    /// The published CRL, refreshed first when half of its validity has passed (or none exists), so that
    /// relying parties never hold an expired CRL. The metric follows the CRL served, whoever published it (this
    /// server, an earlier one, `certtool revoke`).
    func currentCRL(now: Date = Date()) throws -> String {
        let path = "\(directory)/crl.pem"
        if let bytes = FileManager.default.contents(atPath: path), let text = String(data: bytes, encoding: .utf8),
            let crl = try? RevocationList(bytes: Array(bytes), issuers: authority.loadAuthority().certificates, source: path),
            let nextUpdate = crl.nextUpdate, nextUpdate.timeIntervalSince(now) > policy.crlValidity.seconds / 2
        {
            metrics.crlNextUpdate(nextUpdate)
            return text
        }
        let published = try authority.publishCRL(nextUpdate: policy.crlValidity, now: now)
        metrics.crlNextUpdate(now + policy.crlValidity.seconds)
        logger.notice("published CRL", metadata: ["number": "\(published.number)", "revoked": "\(published.crl.revokedCount)"])
        return published.crl.pemString
    }

    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    private func answer(_ body: @Sendable () async throws -> ESTResponse) async -> ESTResponse {
        do {
            return try await body()
        } catch {
            logger.error("request failed", metadata: ["error": "\(error)"])
            return .text(500, "\(error)")
        }
    }
}

extension AuthorityMaterial {
    /// The CA certificates a client may need: the root, then any intermediate.
    var certificates: [Certificate] { [root.certificate] + chain }
}
