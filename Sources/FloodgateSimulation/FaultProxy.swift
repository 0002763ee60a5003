import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A loopback TCP proxy between a client and a redis-server (the simulation's partitions and the fault tests) that can delay every chunk each way, or swallow
/// everything while keeping the connections open (a half-open path). As with TCP, a connection that lost bytes never
/// carries anything again: after `.blackhole`, only connections made later pass. `.refuse` closes every connection and
/// refuses new ones (a server that went away, for this client only).
package final class FaultProxy: Sendable {
    package enum Mode: Sendable {
        case pass
        case delay(TimeAmount)
        case blackhole
        case refuse
    }

    package let port: Int
    private let mode: NIOLockedValueBox<Mode>
    private let connections: NIOLockedValueBox<[any Channel]>
    private let listener: any Channel

    private init(port: Int, mode: NIOLockedValueBox<Mode>, connections: NIOLockedValueBox<[any Channel]>, listener: any Channel) {
        self.port = port
        self.mode = mode
        self.connections = connections
        self.listener = listener
    }

    /// Listens on a free 127.0.0.1 port and forwards each connection to `host:targetPort`.
    package static func start(to host: String, port targetPort: Int) async throws -> FaultProxy {
        let mode = NIOLockedValueBox(Mode.pass)
        let connections = NIOLockedValueBox<[any Channel]>([])
        let group = MultiThreadedEventLoopGroup.singleton
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { inbound in
                // The mode is read under the connections' lock, so `set(.refuse)` either sees this one or it refused it.
                let refused = connections.withLockedValue { open in
                    if case .refuse = mode.withLockedValue({ $0 }) { return true }
                    open.append(inbound)
                    return false
                }
                if refused { return inbound.close() }
                return ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: host, port: targetPort)
                    .flatMap { outbound in
                        let dead = NIOLockedValueBox(false)
                        let toServer = Forwarder(partner: outbound, mode: mode, dead: dead)
                        let toClient = Forwarder(partner: inbound, mode: mode, dead: dead)
                        return inbound.pipeline.addHandler(toServer).flatMap { outbound.pipeline.addHandler(toClient) }
                    }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return FaultProxy(port: listener.localAddress!.port!, mode: mode, connections: connections, listener: listener)
    }

    package func set(_ newMode: Mode) {
        let closing = connections.withLockedValue { open -> [any Channel] in
            mode.withLockedValue { $0 = newMode }
            guard case .refuse = newMode else { return [] }
            defer { open = [] }
            return open
        }
        for connection in closing { connection.close(promise: nil) }
    }

    package func stop() async { try? await listener.close() }

    /// Forwards what one side reads to the other, as the proxy's mode says.
    final class Forwarder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let partner: any Channel
        let mode: NIOLockedValueBox<Mode>
        /// Whether this connection pair has lost bytes (then it stays silent, both ways).
        let dead: NIOLockedValueBox<Bool>

        init(partner: any Channel, mode: NIOLockedValueBox<Mode>, dead: NIOLockedValueBox<Bool>) {
            self.partner = partner
            self.mode = mode
            self.dead = dead
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            let partner = self.partner
            if dead.withLockedValue({ $0 }) { return }
            switch mode.withLockedValue({ $0 }) {
            case .pass:
                partner.writeAndFlush(bytes, promise: nil)
            case .delay(let amount):
                context.eventLoop.scheduleTask(in: amount) { partner.writeAndFlush(bytes, promise: nil) }
            case .blackhole, .refuse:
                dead.withLockedValue { $0 = true }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.close(promise: nil)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
