import ArgumentParser
import CommandLineSupport

@main
struct ScrapeSidecar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrape-sidecar",
        abstract: "Terminate mutual TLS in front of an application's metrics ports.",
        subcommands: [ServeCommand.self])

    static func main() async { await CommandMain.run(ScrapeSidecar.self, name: "scrape-sidecar") }
}
