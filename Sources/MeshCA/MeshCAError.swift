/// Every failure MeshCA reports. Messages are one line, name the problem, and say what to do.
public enum MeshCAError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The caller's input is malformed or refers to something that does not exist (exit status 2).
    case invalidInput(String)
    /// The PKI directory is missing, inconsistent or unreadable (exit status 2).
    case store(String)
    /// A certificate failed verification (exit status 1 for `certtool verify`).
    case verificationFailed(String)
    /// An I/O or system call failed (exit status 1).
    case io(String)

    public var description: String {
        switch self {
        case .invalidInput(let message), .store(let message), .verificationFailed(let message), .io(let message):
            return message
        }
    }

    /// The process exit status a command-line front end should use for this error.
    public var exitStatus: Int32 {
        switch self {
        case .invalidInput, .store: return 2
        case .verificationFailed, .io: return 1
        }
    }
}
