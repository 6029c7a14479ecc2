import MeshPlatform
import MeshTLS
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The built-in PushProx proxy's state: polls waiting for a scrape, scrapes waiting for a poll, and scrapes
/// handed to a poller and waiting for its push.
///
/// Bounded by construction: only FQDNs a verified client polled for are known (a scrape for any other name is
/// refused at once), queues per FQDN are capped, and a poll whose connection closes is dropped. Several
/// polls may wait for one FQDN, so concurrent scrapes of one target are not serialized behind one poll.
final class PushProxRegistry: @unchecked Sendable {
    enum Failure: Error, Equatable {
        /// No client polled for this FQDN within the registration window (404).
        case unknownFQDN
        /// Too many scrapes already wait for this FQDN (503).
        case busy
        /// The client did not push within the scrape timeout (504).
        case timedOut
        /// A newer poll for the same FQDN took this one's place (408, as PushProx answers).
        case superseded
    }

    enum PushResult: Equatable {
        case delivered
        /// No scrape is waiting for this Id (it timed out, or never existed).
        case unknownID
        /// The Id was handed to a poll made with another certificate.
        case wrongPoller
    }

    final class Poll {
        let fqdn: String
        let poller: String
        let promise: EventLoopPromise<ByteBuffer>

        init(fqdn: String, poller: String, promise: EventLoopPromise<ByteBuffer>) {
            self.fqdn = fqdn
            self.poller = poller
            self.promise = promise
        }
    }

    private final class Scrape {
        let id = UUID().uuidString.lowercased()
        let fqdn: String
        var request: HTTPRequestHead
        let body: ByteBuffer
        let promise: EventLoopPromise<ByteBuffer>
        var poller: String?
        var deadline: Scheduled<Void>?

        init(fqdn: String, request: HTTPRequestHead, body: ByteBuffer, promise: EventLoopPromise<ByteBuffer>) {
            self.fqdn = fqdn
            self.request = request
            self.body = body
            self.promise = promise
        }
    }

    private let lock = NIOLock()
    private var polls: [String: [Poll]] = [:]
    private var queued: [String: [Scrape]] = [:]
    private var handedOut: [String: Scrape] = [:]
    private var lastPoll: [String: Date] = [:]

    /// How long a client stays known after its last poll (PushProx's registration timeout).
    let registrationWindow: TimeInterval
    let maximumPollsPerFQDN = 8
    let maximumQueuedPerFQDN = 64

    init(registrationWindow: TimeInterval = 300) {
        self.registrationWindow = registrationWindow
    }

    // MARK: Polls

    /// Registers a poll; `poll.promise` gets the serialized scrape request when one arrives.
    func add(_ poll: Poll) {
        let (handed, superseded): (Scrape?, Poll?) = lock.withLock {
            lastPoll[poll.fqdn] = Date()
            if var waiting = queued[poll.fqdn], !waiting.isEmpty {
                let scrape = waiting.removeFirst()
                queued[poll.fqdn] = waiting.isEmpty ? nil : waiting
                scrape.poller = poll.poller
                handedOut[scrape.id] = scrape
                return (scrape, nil)
            }
            var waiting = polls[poll.fqdn] ?? []
            waiting.append(poll)
            let oldest = waiting.count > maximumPollsPerFQDN ? waiting.removeFirst() : nil
            polls[poll.fqdn] = waiting
            return (nil, oldest)
        }
        superseded?.promise.fail(Failure.superseded)
        if let handed { deliver(handed, to: poll) }
    }

    /// The poll's connection went away: forget it (its promise is failed by the caller's channel).
    func remove(_ poll: Poll) {
        lock.withLock {
            guard var waiting = polls[poll.fqdn] else { return }
            waiting.removeAll { $0 === poll }
            polls[poll.fqdn] = waiting.isEmpty ? nil : waiting
            lastPoll[poll.fqdn] = Date()
        }
    }

    // MARK: Scrapes

    /// Hands a scrape to a waiting poll (or queues it for the next one); `promise` gets the pushed response.
    func scrape(fqdn: String, request: HTTPRequestHead, body: ByteBuffer, timeout: TimeAmount,
                promise: EventLoopPromise<ByteBuffer>) {
        let scrape = Scrape(fqdn: fqdn, request: request, body: body, promise: promise)
        scrape.request.headers.replaceOrAdd(name: "Id", value: scrape.id)
        scrape.request.headers.replaceOrAdd(
            name: "X-Prometheus-Scrape-Timeout-Seconds", value: String(Double(timeout.nanoseconds) / 1e9))
        let outcome: Result<Poll?, Failure> = lock.withLock {
            if var waiting = polls[fqdn], !waiting.isEmpty {
                let poll = waiting.removeFirst()
                polls[fqdn] = waiting.isEmpty ? nil : waiting
                scrape.poller = poll.poller
                handedOut[scrape.id] = scrape
                return .success(poll)
            }
            guard isKnown(fqdn) else { return .failure(.unknownFQDN) }
            var waiting = queued[fqdn] ?? []
            guard waiting.count < maximumQueuedPerFQDN else { return .failure(.busy) }
            waiting.append(scrape)
            queued[fqdn] = waiting
            return .success(nil)
        }
        switch outcome {
        case .failure(let failure):
            promise.fail(failure)
            return
        case .success(let poll?):
            deliver(scrape, to: poll)
        case .success(nil):
            break
        }
        scrape.deadline = promise.futureResult.eventLoop.scheduleTask(in: timeout) { [weak self] in
            self?.expire(scrape)
        }
        promise.futureResult.whenComplete { [weak self] _ in self?.forget(scrape) }
    }

    /// A poller's answer for scrape `id`.
    func push(id: String, poller: String, response: ByteBuffer) -> PushResult {
        let scrape: Scrape? = lock.withLock {
            guard let scrape = handedOut[id], scrape.poller == poller else { return nil }
            handedOut[id] = nil
            return scrape
        }
        guard let scrape else {
            return lock.withLock { handedOut[id] == nil ? .unknownID : .wrongPoller }
        }
        scrape.promise.succeed(response)
        return .delivered
    }

    /// FQDNs with an open poll or a poll within the registration window, sorted.
    func clients() -> [String] {
        lock.withLock {
            prune()
            return Set(lastPoll.keys).union(polls.keys).sorted()
        }
    }

    /// Fails every waiting poll and scrape (shutdown).
    func close() {
        let (waitingPolls, waitingScrapes): ([Poll], [Scrape]) = lock.withLock {
            defer {
                polls = [:]
                queued = [:]
                handedOut = [:]
            }
            return (polls.values.flatMap { $0 }, queued.values.flatMap { $0 } + handedOut.values)
        }
        for poll in waitingPolls { poll.promise.fail(ChannelError.ioOnClosedChannel) }
        for scrape in waitingScrapes { scrape.promise.fail(ChannelError.ioOnClosedChannel) }
    }

    // MARK: Internals

    private func deliver(_ scrape: Scrape, to poll: Poll) {
        do {
            poll.promise.succeed(try HTTPMessageCodec.encode(scrape.request, body: scrape.body))
        } catch {
            scrape.promise.fail(error)
        }
    }

    private func expire(_ scrape: Scrape) { scrape.promise.fail(Failure.timedOut) }

    private func forget(_ scrape: Scrape) {
        scrape.deadline?.cancel()
        lock.withLock {
            handedOut[scrape.id] = nil
            if var waiting = queued[scrape.fqdn] {
                waiting.removeAll { $0 === scrape }
                queued[scrape.fqdn] = waiting.isEmpty ? nil : waiting
            }
        }
    }

    /// Under the lock.
    private func isKnown(_ fqdn: String) -> Bool {
        if polls[fqdn] != nil { return true }
        guard let last = lastPoll[fqdn] else { return false }
        return Date().timeIntervalSince(last) < registrationWindow
    }

    /// Under the lock: forget clients that have not polled within the window and have no open poll.
    private func prune() {
        let cutoff = Date() - registrationWindow
        lastPoll = lastPoll.filter { $0.value > cutoff || polls[$0.key] != nil }
    }
}
