import ArgumentParser
import CommandLineSupport
import Logging
import MeshCA
import MeshPlatform

struct CertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs", _superCommandName: "scrape-sidecar",
        abstract: "Enroll with certtool serve and keep root-cert.pem, cert-chain.pem and key.pem fresh in a directory.",
        discussion: """
            The key is generated here and never leaves. The three files change together (versioned directory + \
            ..data symlink swap). Renewal over mutual TLS at 2/3 of the lifetime; while the CA is unreachable the \
            current set stays and the agent retries with capped exponential backoff.
            """)

    @OptionGroup var enrollment: EnrollmentOptions

    @Flag(help: "Exit 0 once a valid set is written (init container).")
    var once = false

    @Option(name: .customLong("on-rotate-signal"), help: "PIDFILE:SIGNAL to send after each new set (e.g. /run/prometheus.pid:HUP).")
    var onRotateSignal: String?

    @Option(name: .customLong("on-rotate-exec"), help: "Shell command to run after each new set.")
    var onRotateExec: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default notice).")
    var logLevel = "notice"

    @Option(name: .customLong("log-format"), help: "text, or json: one JSON object per line for log collectors.")
    var logFormat: LogFormat = .text

    func run() async throws {
        let settings = try enrollment.agentSettings(defaultProfile: .client)
        let hooks = try RotationHooks(signalSpec: onRotateSignal, command: onRotateExec)
        let logger = try bootstrapLogging(level: logLevel, format: logFormat, label: "scrape-sidecar.certs")
        let agent = CertAgent(settings, logger: logger)
        let (initial, wrote) = try await agent.ensureIdentity()
        if wrote { hooks.run(logger: logger) }
        if once { return }
        let maintenance = Task { await agent.maintain(from: initial) { _ in hooks.run(logger: logger) } }
        await ProcessSignals.waitForTermination(onHangup: {})
        maintenance.cancel()
        logger.notice("stopped")
    }
}
