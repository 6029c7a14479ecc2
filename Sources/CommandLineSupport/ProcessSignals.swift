import MeshPlatform
import NIOConcurrencyHelpers

/// SIGTERM, SIGINT and SIGHUP, taken by `sigwait` on a thread of their own.
///
/// `install()` must run first in `main`: it blocks the signals in the main thread before any other thread
/// exists, so every thread inherits the mask and no signal can hit a thread whose default action would kill
/// the process mid-drain. This also works when the parent passed the signals down blocked.
public enum ProcessSignals {
    private struct Handlers {
        var onTerminate: (@Sendable () -> Void)?
        var onHangup: (@Sendable () -> Void)?
    }

    private static let handlers = NIOLockedValueBox(Handlers())

    public static func install() {
        var set = signals
        pthread_sigmask(SIG_BLOCK, &set, nil)
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let started = pthread_create(&thread, nil, { _ in ProcessSignals.waitForSignals() }, nil)
        precondition(started == 0, "cannot start the signal thread: \(String(cString: strerror(started)))")
    }

    private static var signals: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signalNumber in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, signalNumber) }
        return set
    }

    private static func waitForSignals() -> Never {
        var waitSet = signals
        while true {
            var received: Int32 = 0
            guard sigwait(&waitSet, &received) == 0 else { continue }
            let current = handlers.withLockedValue { $0 }
            if received == SIGHUP {
                current.onHangup?()
            } else if let onTerminate = current.onTerminate {
                handlers.withLockedValue { $0.onTerminate = nil }
                onTerminate()
            } else {
                // Nothing to drain: behave like the default action.
                exit(128 + received)
            }
        }
    }

    /// Suspends until SIGTERM or SIGINT; SIGHUP calls `onHangup` meanwhile.
    public static func waitForTermination(onHangup: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            handlers.withLockedValue {
                $0.onHangup = onHangup
                $0.onTerminate = { continuation.resume() }
            }
        }
    }
}
