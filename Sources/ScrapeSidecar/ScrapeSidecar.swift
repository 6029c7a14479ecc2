import ArgumentParser
import CommandLineSupport
import Dispatch

struct ScrapeSidecar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrape-sidecar",
        abstract: "Mutual TLS for Prometheus scrapes: terminate it in front of metrics ports (serve), keep an enrolled identity fresh (certs), verify clients in front of a PushProx proxy (front).",
        subcommands: [ServeCommand.self, CertsCommand.self, FrontCommand.self, PollCommand.self])
}

/// A synchronous entry point: an `async` main runs on a pool thread, and the signal mask must be set on the
/// real main thread before any other thread exists (see `ProcessSignals`). The main thread then parks on a
/// semaphore — not `dispatchMain()`, which clears its signal mask on Linux. `CommandMain.run` exits.
@main
enum Entry {
    static func main() {
        ProcessSignals.install()
        Task.detached { await CommandMain.run(ScrapeSidecar.self, name: "scrape-sidecar") }
        DispatchSemaphore(value: 0).wait()
    }
}
