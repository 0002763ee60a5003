import FloodgateRESP
import FloodgateRedis
import FloodgateTestSupport
import Testing

@Suite("Client-side caching support", .timeLimit(.minutes(3)))
struct TrackingTests {
    @Test func defaultModeInvalidatesKeysThisClientRead() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (reader) async throws in
                try await withRunningClient(testConfiguration(server)) { (writer) async throws in
                    let key = uniqueKey()
                    let invalidations = reader.invalidations()
                    #expect(await reader.enableTracking() == .on(.default()))
                    #expect(reader.trackingStatus == .on(.default()))
                    try await writer.set(key, to: "1")
                    _ = try await reader.get(key)
                    try await writer.set(key, to: "2")
                    var iterator = invalidations.makeAsyncIterator()
                    #expect(try await next(&iterator, "tracking on") == .resumed)
                    #expect(try await next(&iterator, "the invalidation of the key read") == .keys([key]))
                    _ = try await writer.send(command: "FLUSHALL")
                    #expect(try await next(&iterator, "the flush's invalidation") == .all(reason: .serverFlushed))
                }
            }
        }
    }

    @Test func broadcastModeWithPrefixes() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (reader) async throws in
                try await withRunningClient(testConfiguration(server)) { (writer) async throws in
                    let prefix = uniqueKey() + ":"
                    let invalidations = reader.invalidations()
                    let mode = RedisTrackingMode.broadcast(prefixes: [prefix])
                    #expect(await reader.enableTracking(mode) == .on(mode))
                    try await writer.set("other:key", to: "x")
                    try await writer.set(prefix + "a", to: "x")
                    var iterator = invalidations.makeAsyncIterator()
                    #expect(try await next(&iterator, "tracking on") == .resumed)
                    #expect(try await next(&iterator, "the prefix's invalidation") == .keys([prefix + "a"]), "never read, still invalidated; other prefix not")
                }
            }
        }
    }

    @Test func trackingComesBackAfterReconnect() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (reader) async throws in
                let key = uniqueKey()
                let invalidations = reader.invalidations()
                var iterator = invalidations.makeAsyncIterator()
                #expect(await reader.enableTracking(.broadcast()) == .on(.broadcast()))
                #expect(try await next(&iterator, "tracking on") == .resumed)
                server.kill()
                #expect(try await next(&iterator, "the lost connection's invalidation") == .all(reason: .connectionLost))
                try await server.restart()
                #expect(try await next(&iterator, "tracking on again, on the new connection") == .resumed)
                #expect(reader.trackingStatus == .on(.broadcast()))
                try await withRunningClient(testConfiguration(server)) { (writer) async throws in
                    try await writer.set(key, to: "x")
                }
                #expect(try await next(&iterator, "the invalidation after the reconnect") == .keys([key]))
            }
        }
    }

    @Test func refusedTrackingIsReportedNotThrown() async throws {
        try await withRedisServer(.init(arguments: ["--rename-command", "CLIENT", ""])) { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let status = await client.enableTracking()
                if case .unavailable(let reason) = status {
                    #expect(reason.contains("unknown command"))
                } else {
                    Issue.record("expected unavailable, got \(status)")
                }
                #expect(try await client.ping() == "PONG", "the client keeps working")
            }
        }
    }

    @Test func resp2ReportsTrackingUnavailable() async throws {
        try await withRedisServer(.init(arguments: ["--rename-command", "HELLO", ""])) { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                _ = try await client.ping()
                let status = await client.enableTracking()
                if case .unavailable = status {} else { Issue.record("RESP2 cannot deliver tracking pushes: \(status)") }
            }
        }
    }
}
