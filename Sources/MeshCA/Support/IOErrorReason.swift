import MeshPlatform

/// The operating system's words for why a file operation failed ("No such file or directory"), for the end of
/// a one-line error message. FoundationEssentials' errors have no `localizedDescription`, and their
/// `description` is a dump of the error's user info.
public func ioReason(_ error: any Error) -> String {
    if let error = error as? POSIXError { return String(cString: strerror(error.code.rawValue)) }
    if let error = error as? CocoaError, let underlying = error.underlying as? POSIXError {
        return String(cString: strerror(underlying.code.rawValue))
    }
    if let error = error as? MeshCAError { return error.description }
    return "\(error)"
}
