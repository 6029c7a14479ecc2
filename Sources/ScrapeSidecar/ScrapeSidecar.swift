import ArgumentParser
import CommandLineSupport
import Dispatch

struct ScrapeSidecar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrape-sidecar",
        abstract: "Terminate mutual TLS in front of an application's metrics ports.",
        subcommands: [ServeCommand.self, CertsCommand.self])
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
