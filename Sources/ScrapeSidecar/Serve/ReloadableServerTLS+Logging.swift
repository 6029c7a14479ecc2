import Logging
import MeshTLS

extension ReloadableServerTLS {
    /// A listener's TLS whose handshake refusals are logged and counted by reason.
    static func logging(_ settings: ServerTLS, logger: Logger, metrics: SidecarMetrics) throws -> ReloadableServerTLS {
        try ReloadableServerTLS(settings: settings) { reason in
            logger.notice("client refused in TLS handshake", metadata: ["reason": "\(reason)"])
            metrics.handshakeFailure(reason: SidecarMetrics.handshakeReason(reason))
        }
    }

    /// Re-reads the files if they changed (always with `force`), logging the outcome; a bad new set keeps the
    /// old one. True when a new set was installed.
    func reloadLogging(force: Bool, logger: Logger) -> Bool {
        do {
            guard try reload(force: force) else { return false }
            logger.notice("reloaded certificate, key, client CA and CRL")
            return true
        } catch {
            logger.error("kept the previous TLS identity: the new files are unusable", metadata: ["error": "\(error)"])
            return false
        }
    }
}
