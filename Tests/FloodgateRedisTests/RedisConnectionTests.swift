import FloodgateRESP
import FloodgateTestSupport
import Logging
import NIOCore
import NIOEmbedded
import Testing
@testable import FloodgateRedis

/// The connection's protocol logic on a testing channel: no sockets, no server, time under the test's control.
@Suite("Connection protocol logic", .timeLimit(.minutes(3)))
struct RedisConnectionTests {
    struct Fixture: Sendable {
        let loop: NIOAsyncTestingEventLoop
        let channel: NIOAsyncTestingChannel
        let connection: RedisConnection
        let accounting: RedisCommandAccounting
        let pushes: AsyncStream<RESPValue>

        init(commandTimeout: Duration? = nil) async throws {
            let loop = NIOAsyncTestingEventLoop()
            let channel = NIOAsyncTestingChannel(loop: loop)
            let accounting = RedisCommandAccounting()
            self.connection = try await loop.submit {
                let handler = RedisChannelHandler(eventLoop: loop, accounting: accounting)
                try channel.pipeline.syncOperations.addHandler(handler)
                return RedisConnection(
                    channel: channel,
                    handler: handler,
                    commandTimeout: commandTimeout,
                    logger: Logger(label: "test")
                )
            }.get()
            try await channel.connect(to: .init(ipAddress: "127.0.0.1", port: 6379))
            let (pushes, continuation) = AsyncStream.makeStream(of: RESPValue.self)
            try await connection.setPushHandler(subscriberMode: false) { continuation.yield($0) }
            self.loop = loop
            self.channel = channel
            self.accounting = accounting
            self.pushes = pushes
        }

        /// What the connection wrote next, as text.
        /// The next bytes the connection writes (failing the test if it writes nothing within 10 s).
        func written() async throws -> String {
            try await withDeadline(.seconds(10), "the connection writes to the channel") { [channel] in
                String(buffer: try await channel.waitForOutboundWrite(as: ByteBuffer.self))
            }
        }

        func reply(_ wire: String) async throws {
            try await channel.writeInbound(ByteBuffer(string: wire))
        }
    }

    @Test func matchesRepliesInOrderAcrossSplitReadsAndCountsCommands() async throws {
        let fixture = try await Fixture()
        let first = Task { try await fixture.connection.send(RedisCommand("GET", "a"), component: .cache) }
        #expect(try await fixture.written() == "*2\r\n$3\r\nGET\r\n$1\r\na\r\n")
        let second = Task { try await fixture.connection.send(RedisCommand("GET", "b"), component: .cache) }
        #expect(try await fixture.written() == "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n")
        try await fixture.reply("$1\r\nA\r\n$1\r")
        try await fixture.reply("\nB\r\n")
        #expect(try await first.value == .bulkString("A"))
        #expect(try await second.value == .bulkString("B"))
        #expect(fixture.accounting.snapshot().counts == [.init(component: .cache, command: "get"): 2])
    }

    @Test func batchIsWrittenBackToBackAndAnsweredTogether() async throws {
        let fixture = try await Fixture()
        let replies = Task { try await fixture.connection.sendBatch([RedisCommand("INCR", "n"), RedisCommand("GET", "h")]) }
        var wire = ""
        while wire.count < 30 { wire += try await fixture.written() }
        #expect(wire == "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*2\r\n$3\r\nGET\r\n$1\r\nh\r\n")
        try await fixture.reply(":1\r\n-WRONGTYPE Operation against a key\r\n")
        #expect(try await replies.value == [.integer(1), .simpleError("WRONGTYPE Operation against a key")])
    }

    @Test func pushMessagesAreRoutedApartFromReplies() async throws {
        let fixture = try await Fixture()
        let reply = Task { try await fixture.connection.send(RedisCommand("GET", "a"), component: .cache) }
        _ = try await fixture.written()
        try await fixture.reply(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n$1\r\nA\r\n")
        #expect(try await reply.value == .bulkString("A"))
        var pushes = fixture.pushes.makeAsyncIterator()
        #expect(try await next(&pushes, "the pushed invalidation") == .push([.bulkString("invalidate"), .array([.bulkString("a")])]))
    }

    @Test func errorReplyThrowsAServerError() async throws {
        let fixture = try await Fixture()
        let reply = Task { try await fixture.connection.send(RedisCommand("GET", "h"), component: .cache) }
        _ = try await fixture.written()
        try await fixture.reply("-WRONGTYPE Operation against a key\r\n")
        let error = await #expect(throws: RedisClientError.self) { try await reply.value }
        #expect(error?.isServerError("WRONGTYPE") == true)
    }

    @Test func lateReplyAfterATimeoutIsDroppedNotMisdelivered() async throws {
        let fixture = try await Fixture(commandTimeout: .milliseconds(100))
        let late = Task { try await fixture.connection.send(RedisCommand("GET", "a"), component: .cache) }
        _ = try await fixture.written()
        await fixture.loop.advanceTime(by: .milliseconds(50))
        let next = Task { try await fixture.connection.send(RedisCommand("GET", "b"), component: .cache) }
        _ = try await fixture.written()
        await fixture.loop.advanceTime(by: .milliseconds(60))
        let error = await #expect(throws: RedisClientError.self) { try await late.value }
        #expect(error?.code == .timeout)
        try await fixture.reply("$1\r\nA\r\n$1\r\nB\r\n")
        #expect(try await next.value == .bulkString("B"), "A's reply was consumed by the timed-out request")
    }

    @Test func cancellingOneRequestLeavesTheOthersInSync() async throws {
        let fixture = try await Fixture()
        let cancelled = Task { try await fixture.connection.send(RedisCommand("GET", "a"), component: .cache) }
        _ = try await fixture.written()
        let survivor = Task { try await fixture.connection.send(RedisCommand("GET", "b"), component: .cache) }
        _ = try await fixture.written()
        cancelled.cancel()
        let error = await #expect(throws: RedisClientError.self) { try await cancelled.value }
        #expect(error?.code == .cancelled)
        try await fixture.reply("$1\r\nA\r\n$1\r\nB\r\n")
        #expect(try await survivor.value == .bulkString("B"))
    }

    @Test func closingFailsEverythingInFlightAndLaterWrites() async throws {
        let fixture = try await Fixture()
        let a = Task { try await fixture.connection.send(RedisCommand("GET", "a"), component: .cache) }
        _ = try await fixture.written()
        let b = Task { try await fixture.connection.sendBatch([RedisCommand("GET", "b"), RedisCommand("GET", "c")]) }
        _ = try await fixture.written()
        try await fixture.channel.close()
        let errorA = await #expect(throws: RedisClientError.self) { try await a.value }
        #expect(errorA?.code == .connectionClosed)
        let errorB = await #expect(throws: RedisClientError.self) { try await b.value }
        #expect(errorB?.code == .connectionClosed)
        let after = await #expect(throws: RedisClientError.self) {
            try await fixture.connection.send(RedisCommand("PING"), component: .cache)
        }
        #expect(after?.code == .connectionClosed)
    }

    @Test func malformedInputFailsInFlightWithAProtocolError() async throws {
        let fixture = try await Fixture()
        let a = Task { try await fixture.connection.send(RedisCommand("GET", "a"), component: .cache) }
        _ = try await fixture.written()
        try? await fixture.reply("?garbage\r\n")
        let error = await #expect(throws: RedisClientError.self) { try await a.value }
        #expect(error?.code == .protocolError)
        #expect(!fixture.connection.isActive)
    }

    @Test func unsolicitedReplyClosesTheConnection() async throws {
        let fixture = try await Fixture()
        try await fixture.reply("+OK\r\n")
        #expect(!fixture.connection.isActive)
    }

    @Test func inFlightCountAndDrain() async throws {
        let fixture = try await Fixture()
        let a = Task { try await fixture.connection.send(RedisCommand("GET", "a"), component: .cache) }
        _ = try await fixture.written()
        #expect(await fixture.connection.inFlightCount() == 1)
        try await fixture.reply("_\r\n")
        #expect(try await a.value == .null)
        #expect(await fixture.connection.inFlightCount() == 0)
    }
}
