import Foundation
import Logging
import MeshCA

/// What to do after each new set is written: signal a process named by a pidfile, and/or run a command.
struct RotationHooks: Sendable {
    var signal: (pidFile: String, signal: Int32)?
    var command: String?

    init(signalSpec: String?, command: String?) throws {
        self.command = command
        guard let signalSpec else { return }
        let parts = signalSpec.split(separator: ":", omittingEmptySubsequences: false)
        let names: [String: Int32] = ["HUP": SIGHUP, "USR1": SIGUSR1, "USR2": SIGUSR2, "TERM": SIGTERM, "INT": SIGINT]
        guard parts.count <= 2, let path = parts.first, !path.isEmpty,
            let number = names[parts.count == 2 ? parts[1].uppercased().replacingOccurrences(of: "SIG", with: "") : "HUP"]
        else {
            throw MeshCAError.invalidInput("invalid --on-rotate-signal '\(signalSpec)': use PIDFILE:HUP (or USR1, USR2, TERM, INT)")
        }
        signal = (String(path), number)
    }

    func run(logger: Logger) {
        if let (pidFile, number) = signal {
            let text = (try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            if let text, let pid = pid_t(text), pid > 1 {
                if kill(pid, number) == 0 {
                    logger.notice("signalled after rotation", metadata: ["pid": "\(pid)", "signal": "\(number)"])
                } else {
                    logger.error("cannot signal after rotation", metadata: ["pid": "\(pid)", "error": "\(String(cString: strerror(errno)))"])
                }
            } else {
                logger.error("cannot signal after rotation: no pid in pidfile", metadata: ["pidfile": "\(pidFile)"])
            }
        }
        if let command {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            do {
                try process.run()
                process.waitUntilExit()
                let level: Logger.Level = process.terminationStatus == 0 ? .notice : .error
                logger.log(level: level, "ran the rotation command", metadata: ["command": "\(command)", "status": "\(process.terminationStatus)"])
            } catch {
                logger.error("cannot run the rotation command", metadata: ["command": "\(command)", "error": "\(error)"])
            }
        }
    }
}
