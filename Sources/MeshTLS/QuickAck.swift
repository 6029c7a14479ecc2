import MeshPlatform
import NIOCore

extension Channel {
    /// Sends the ACK the kernel is holding back for this connection now instead of after its delayed-ACK timer
    /// (40 ms on Linux; `TCP_QUICKACK`). For when the peer waits for that ACK before sending more (Nagle's
    /// algorithm) and this side has nothing to send that would carry it. Call on the channel's event loop.
    public func acknowledgeNow() {
        #if os(Linux)
        try? syncOptions?.setOption(ChannelOptions.tcpOption(NIOBSDSocket.Option(rawValue: TCP_QUICKACK)), value: 1)
        #endif
    }
}
