import ArgumentParser
import CommandLineSupport

struct ScrapeSidecar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrape-sidecar",
        abstract: "Mutual TLS for Prometheus scrapes: terminate it in front of metrics ports (serve), keep an enrolled identity fresh (certs), verify clients in front of a PushProx proxy (front).",
        subcommands: [ServeCommand.self, CertsCommand.self, FrontCommand.self, PollCommand.self])
}

/// A synchronous entry point: an `async` main runs on a pool thread, and the signal mask must be set on the
/// real main thread before any other thread exists (see `ProcessSignals`).
@main
enum Entry {
    static func main() {
        ProcessSignals.install()
        CommandMain.main(ScrapeSidecar.self, name: "scrape-sidecar")
    }
}
