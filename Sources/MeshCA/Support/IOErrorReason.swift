import MeshPlatform

/// The operating system's words for an error number ("No such file or directory"), by default the last one.
public func errnoDescription(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// The operating system's words for why a file operation failed, for the end of a one-line error message.
/// FoundationEssentials' errors have no `localizedDescription`, and their `description` is a dump of the
/// error's user info.
public func ioReason(_ error: any Error) -> String {
    if let error = error as? POSIXError { return errnoDescription(error.code.rawValue) }
    if let error = error as? CocoaError, let underlying = error.underlying as? POSIXError {
        return errnoDescription(underlying.code.rawValue)
    }
    return "\(error)"
}
