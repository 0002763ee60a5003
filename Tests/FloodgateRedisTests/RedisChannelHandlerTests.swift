import FloodgateRESP
@testable import FloodgateRedis
import NIOCore
import NIOEmbedded
import Testing

/// The connection's protocol logic on an embedded channel: no sockets, no server, time under test control.
@Suite("Channel handler")
struct RedisChannelHandlerTests {
    final class Fixture {
        let loop = EmbeddedEventLoop()
        let channel: EmbeddedChannel
        let handler: RedisChannelHandler
        let accounting = RedisCommandAccounting()
        var pushes: [RESPValue] = []

        init() throws {
            handler = RedisChannelHandler(eventLoop: loop, accounting: accounting)
            channel = EmbeddedChannel(loop: loop)
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder()))
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 6379)).wait()
            handler.onPush = { [unowned self] in self.pushes.append($0) }
        }

        func send(_ command: RedisCommand, deadline: NIODeadline = .distantFuture) -> EventLoopFuture<RESPValue> {
            let promise = loop.makePromise(of: RESPValue.self)
            handler.write(command, component: .cache, promise: promise, deadline: deadline)
            handler.flush()
            return promise.futureResult
        }

        func reply(_ wire: String) throws {
            try channel.writeInbound(ByteBuffer(string: wire))
        }

        func written() throws -> String {
            var all = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { all += String(buffer: buffer) }
            return all
        }
    }

    @Test func matchesRepliesInOrderAndCountsCommands() throws {
        let fixture = try Fixture()
        let first = fixture.send(RedisCommand("GET", "a"))
        let second = fixture.send(RedisCommand("GET", "b"))
        #expect(try fixture.written() == "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n")
        try fixture.reply("$1\r\nA\r\n$1\r")
        #expect(try first.wait() == .bulkString("A"))
        #expect(!second.isFulfilledForTest)
        try fixture.reply("\nB\r\n")
        #expect(try second.wait() == .bulkString("B"))
        #expect(fixture.accounting.snapshot().counts == [.init(component: .cache, command: "get"): 2])
    }

    @Test func pushMessagesAreRoutedApartFromReplies() throws {
        let fixture = try Fixture()
        let reply = fixture.send(RedisCommand("GET", "a"))
        try fixture.reply(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n$1\r\nA\r\n")
        #expect(try reply.wait() == .bulkString("A"))
        #expect(fixture.pushes == [.push([.bulkString("invalidate"), .array([.bulkString("a")])])])
    }

    @Test func subscriberModeTreatsRESP2PubSubArraysAsPushes() throws {
        let fixture = try Fixture()
        fixture.handler.subscriberMode = true
        try fixture.reply("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n")
        #expect(fixture.pushes.count == 1)
        // A reply that is not a pub/sub array still goes to its request.
        let ping = fixture.send(RedisCommand("PING"))
        try fixture.reply("*2\r\n$4\r\npong\r\n$0\r\n\r\n")
        #expect(try ping.wait() == .array([.bulkString("pong"), .bulkString("")]))
    }

    @Test func lateReplyAfterATimeoutIsDroppedNotMisdelivered() throws {
        let fixture = try Fixture()
        let late = fixture.send(RedisCommand("GET", "a"), deadline: .uptimeNanoseconds(1_000_000))
        let next = fixture.send(RedisCommand("GET", "b"), deadline: .uptimeNanoseconds(10_000_000_000))
        fixture.loop.advanceTime(to: .uptimeNanoseconds(2_000_000))
        #expect(throws: RedisClientError(.timeout, "no reply from Redis before the command's deadline")) {
            try late.wait()
        }
        #expect(!next.isFulfilledForTest)
        try fixture.reply("$1\r\nA\r\n$1\r\nB\r\n")
        #expect(try next.wait() == .bulkString("B"), "A's reply was consumed by the timed-out request")
    }

    @Test func closingFailsEverythingInFlight() throws {
        let fixture = try Fixture()
        let a = fixture.send(RedisCommand("GET", "a"))
        let b = fixture.send(RedisCommand("GET", "b"))
        try fixture.channel.close().wait()
        for future in [a, b] {
            let error = #expect(throws: RedisClientError.self) { try future.wait() }
            #expect(error?.code == .connectionClosed)
        }
        // Writing on a closed connection fails at once.
        let after = fixture.send(RedisCommand("PING"))
        #expect(throws: RedisClientError.self) { try after.wait() }
    }

    @Test func malformedInputFailsInFlightWithAProtocolError() throws {
        let fixture = try Fixture()
        let a = fixture.send(RedisCommand("GET", "a"))
        try? fixture.reply("?garbage\r\n")
        let error = #expect(throws: RedisClientError.self) { try a.wait() }
        #expect(error?.code == .protocolError)
        #expect(!fixture.channel.isActive)
    }

    @Test func unsolicitedReplyClosesTheConnection() throws {
        let fixture = try Fixture()
        try fixture.reply("+OK\r\n")
        #expect(!fixture.channel.isActive)
    }

    @Test func drainCompletesWhenTheLastReplyArrives() throws {
        let fixture = try Fixture()
        let a = fixture.send(RedisCommand("GET", "a"))
        let drained = fixture.handler.waitUntilDrained()
        #expect(!drained.isFulfilledForTest)
        try fixture.reply("_\r\n")
        #expect(try a.wait() == .null)
        #expect(drained.isFulfilledForTest)
    }
}

extension EventLoopFuture {
    /// Whether the future has completed; for tests on an embedded event loop only.
    var isFulfilledForTest: Bool {
        var done = false
        whenComplete { _ in done = true }
        return done
    }
}
