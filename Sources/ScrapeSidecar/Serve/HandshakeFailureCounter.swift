import NIOCore
import NIOSSL
import NIOTLS

/// Counts handshakes that BoringSSL refuses before our verifier runs (no client certificate, protocol or
/// cipher mismatch, plain HTTP on the TLS port). Certificate refusals are counted by the verifier with their
/// reason. Removes itself once the handshake completes.
final class HandshakeFailureCounter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let metrics: SidecarMetrics
    private let listener: String

    init(metrics: SidecarMetrics, listener: String) {
        self.metrics = metrics
        self.listener = listener
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let text = "\(error)"
        if !text.contains("CERTIFICATE_VERIFY_FAILED") {
            metrics.handshakeFailure(reason: text.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") ? "no_certificate" : "tls_error")
        }
        context.fireErrorCaught(error)
    }
}
