#if canImport(Glibc)
import CGlibc
import MeshCA
import Glibc
#endif

/// Hands heap that was freed back to the operating system once enough of it has piled up.
///
/// glibc keeps freed memory in its arenas: after 2,000 mTLS connections close, a server's heap is back to its
/// baseline (heaptrack) but its RSS stays at the peak — what a pod's memory limit counts. `malloc_trim`
/// returns the free pages; it is called only when the arenas hold at least `threshold` bytes free.
public enum FreedMemory {
    /// Checks every `interval` until the task is cancelled.
    public static func releasePeriodically(every interval: Duration = .seconds(10), threshold: Int = 16 << 20) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            releaseIfWorthIt(threshold: threshold)
        }
    }

    /// Trims when the arenas hold at least `threshold` free bytes; returns whether it did.
    @discardableResult
    public static func releaseIfWorthIt(threshold: Int) -> Bool {
        #if canImport(Glibc)
        guard mallinfo2().fordblks >= threshold else { return false }
        return malloc_trim(0) == 1
        #else
        return false
        #endif
    }
}

extension ProcessSignals {
    /// `waitForTermination` for a server: while it waits, freed heap goes back to the OS (`FreedMemory`).
    public static func serveUntilTermination(onHangup: @escaping @Sendable () -> Void) async {
        let releasing = Task { await FreedMemory.releasePeriodically() }
        defer { releasing.cancel() }
        await waitForTermination(onHangup: onHangup)
    }
}
