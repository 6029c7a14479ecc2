import NIOConcurrencyHelpers

/// Requests being proxied, so SIGTERM can wait for them; once draining, responses close their connection.
final class InFlightRequests: Sendable {
    private let state = NIOLockedValueBox((count: 0, draining: false))

    func begin() { state.withLockedValue { $0.count += 1 } }
    func end() { state.withLockedValue { $0.count -= 1 } }

    var count: Int { state.withLockedValue { $0.count } }
    var draining: Bool { state.withLockedValue { $0.draining } }

    func startDraining() { state.withLockedValue { $0.draining = true } }
}
