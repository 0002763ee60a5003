import FloodgateRESP
import FloodgateRedis
import FloodgateTestSupport
import NIOCore
import Testing

@Suite("Pub/sub", .timeLimit(.minutes(3)))
struct PubSubTests {
    @Test func channelsAndPatterns() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let channel = uniqueKey()
                let subscription = try await client.subscribe(to: [channel], patterns: ["\(channel):*"])
                var iterator = subscription.messages.makeAsyncIterator()
                #expect(try await client.publish("hello", to: channel) == 1)
                #expect(try await client.publish("world", to: "\(channel):sub") == 1)
                let first = try await next(&iterator, "the message on the channel")
                #expect(first == RedisPubSubMessage(channel: channel, payload: ByteBuffer(string: "hello")))
                let second = try await next(&iterator, "the message on the pattern")
                #expect(second?.pattern == "\(channel):*")
                #expect(second?.text == "world")
            }
        }
    }

    @Test func releasingASubscriptionUnsubscribes() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let channel = uniqueKey()
                do {
                    let subscription = try await client.subscribe(to: [channel])
                    _ = subscription
                    let numsub = try await client.send(command: "PUBSUB", arguments: ["NUMSUB", channel]).elements()
                    #expect(numsub.last == .integer(1))
                }
                try await eventually("the server sees no subscriber") {
                    let numsub = try? await client.send(command: "PUBSUB", arguments: ["NUMSUB", channel]).elements()
                    return numsub?.last == .integer(0)
                }
            }
        }
    }

    @Test func twoSubscriptionsToOneChannelBothReceive() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let channel = uniqueKey()
                let a = try await client.subscribe(to: [channel])
                let b = try await client.subscribe(to: [channel])
                #expect(try await client.publish("x", to: channel) == 1, "one server-side subscription serves both")
                var ai = a.messages.makeAsyncIterator()
                var bi = b.messages.makeAsyncIterator()
                #expect(try await next(&ai, "a's message")?.text == "x")
                #expect(try await next(&bi, "b's message")?.text == "x")
            }
        }
    }

    @Test func resubscribesAfterTheServerRestarts() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let channel = uniqueKey()
                let subscription = try await client.subscribe(to: [channel])
                var events = subscription.makeAsyncIterator()
                server.kill()
                try await server.restart()
                #expect(try await next(&events, "the reconnected event") == .reconnected)
                try await eventually("the subscription is back on the restarted server") {
                    (try? await client.publish("after", to: channel)) == 1
                }
                #expect(try await next(&events, "the message after the restart") == .message(RedisPubSubMessage(channel: channel, payload: ByteBuffer(string: "after"))))
            }
        }
    }

    @Test func worksOverRESP2() async throws {
        try await withRedisServer(.init(arguments: ["--rename-command", "HELLO", ""])) { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                #expect(try await client.ping() == "PONG")
                #expect(client.protocolVersion == 2)
                let channel = uniqueKey()
                let subscription = try await client.subscribe(to: [channel], patterns: ["\(channel)*"])
                var iterator = subscription.messages.makeAsyncIterator()
                #expect(try await client.publish("resp2", to: channel) == 2)
                let messages = [try await next(&iterator, "the channel's message"), try await next(&iterator, "the pattern's message")]
                #expect(messages.compactMap { $0?.text } == ["resp2", "resp2"])
                #expect(messages.compactMap { $0?.pattern } == ["\(channel)*"])
            }
        }
    }
}
