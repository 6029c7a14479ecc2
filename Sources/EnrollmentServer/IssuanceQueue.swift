import Logging
import MeshCA
import NIOConcurrencyHelpers
import NIOPosix

/// Funnels enrollments into group commits: while one batch is written (one lock, one flush), new jobs queue up
/// and go into the next, so each durable write carries every certificate that arrived meanwhile. A batch is
/// answered at its commit point, while the store still applies it to pki/ under the lock: the clients' next
/// requests are on their way meanwhile, and so the next batch is larger.
final class IssuanceQueue: Sendable {
    typealias Completion = @Sendable (Result<CertificateAuthority.Issued, Error>) -> Void
    private typealias Pending = (job: CertificateAuthority.EnrollmentJob, done: Completion)

    private struct State {
        var pending: [Pending] = []
        var draining = false
    }

    private let state = NIOLockedValueBox(State())
    private let authority: CertificateAuthority
    private let pool: NIOThreadPool
    private let metrics: EnrollmentMetrics
    private let logger: Logger
    /// Bounds one batch's latency and memory.
    private let maximumBatch = 128

    init(authority: CertificateAuthority, pool: NIOThreadPool, metrics: EnrollmentMetrics, logger: Logger) {
        self.authority = authority
        self.pool = pool
        self.metrics = metrics
        self.logger = logger
    }

    func submit(_ job: CertificateAuthority.EnrollmentJob) async throws -> CertificateAuthority.Issued {
        try await withCheckedContinuation { continuation in submit(job) { continuation.resume(returning: $0) } }.get()
    }

    /// Queues `job`; `done` runs on the commit thread, under the store's lock, once its batch is durable (or
    /// failed): keep it short, e.g. completing an `EventLoopPromise`.
    func submit(_ job: CertificateAuthority.EnrollmentJob, done: @escaping Completion) {
        let startDrain = state.withLockedValue { state -> Bool in
            state.pending.append((job, done))
            guard !state.draining else { return false }
            state.draining = true
            return true
        }
        if startDrain { pool.submit { _ in self.drain() } }
    }

    private func drain() {
        while true {
            let batch = state.withLockedValue { state -> [Pending] in
                let batch = Array(state.pending.prefix(maximumBatch))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.draining = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            var answered = false
            let started = ContinuousClock.now
            do {
                try authority.commit(batch.map(\.job)) { results in
                    metrics.committed(size: batch.count, since: started)
                    answered = true
                    for (pending, result) in zip(batch, results) { pending.done(result) }
                }
            } catch where answered {
                // After the commit point: the batch is committed, and the next holder of the lock replays it.
                logger.error(
                    "a committed batch was not fully written to the pki; the next holder of its lock replays it",
                    metadata: ["error": "\(error)"])
            } catch {
                for pending in batch { pending.done(.failure(error)) }
            }
        }
    }
}
