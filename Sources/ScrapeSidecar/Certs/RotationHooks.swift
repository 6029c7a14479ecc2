import Logging
import MeshCA
import MeshPlatform

#if os(Linux)
import CGlibc
#endif

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
            let number = names[parts.count == 2 ? String(parts[1].uppercased().trimmingPrefix("SIG")) : "HUP"]
        else {
            throw MeshCAError.invalidInput("invalid --on-rotate-signal '\(signalSpec)': use PIDFILE:HUP (or USR1, USR2, TERM, INT)")
        }
        signal = (String(path), number)
    }

    func run(logger: Logger) {
        if let (pidFile, number) = signal {
            let text = (try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimming(while: \.isWhitespace)
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
            switch Self.runShell(command) {
            case .success(let status):
                let level: Logger.Level = status == 0 ? .notice : .error
                logger.log(level: level, "ran the rotation command", metadata: ["command": "\(command)", "status": "\(status)"])
            case .failure(let error):
                logger.error("cannot run the rotation command", metadata: ["command": "\(command)", "error": "\(error)"])
            }
        }
    }

    /// `/bin/sh -c command`, waited for: its exit status (128 + the signal if one ended it). As with Foundation's
    /// `Process`, the child gets only stdin, stdout and stderr, no signals blocked and default handlers: this
    /// process blocks the ones its signal thread waits for, and a spawned process would inherit that mask (dash
    /// clears it; bash does not).
    static func runShell(_ command: String) -> Result<Int32, SpawnError> {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        #if os(Linux)
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        #endif
        let arguments = ["/bin/sh", "-c", command].map { (argument: String) in strdup(argument) }
        defer { arguments.forEach { free($0) } }
        var pid = pid_t()
        let started = posix_spawn(&pid, "/bin/sh", &actions, &attributes, arguments + [nil], environ)
        guard started == 0 else { return .failure(SpawnError(code: started)) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { return .failure(SpawnError(code: errno)) }
        }
        let signal = status & 0x7f
        return .success(signal == 0 ? (status >> 8) & 0xff : 128 + signal)
    }

    struct SpawnError: Error, CustomStringConvertible {
        var code: Int32
        var description: String { errnoDescription(code) }
    }
}
