import NIOCore
import NIOPosix

/// A loopback TCP server that answers every read with fixed bytes: a peer that does not speak RESP.
final class GarbageServer: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }
    var eventLoop: any EventLoop { channel.eventLoop }

    private init(channel: any Channel) { self.channel = channel }

    static func start(reply: String) async throws -> GarbageServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(Responder(reply: reply))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return GarbageServer(channel: channel)
    }

    func stop() { channel.close(promise: nil) }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reply: String
        init(reply: String) { self.reply = reply }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: reply)), promise: nil)
        }
    }
}
