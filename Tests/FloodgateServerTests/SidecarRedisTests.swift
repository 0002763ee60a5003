import Floodgate
import FloodgateLocalRedis
import FloodgateRedis
import FloodgateTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import Testing

@testable import FloodgateServer

/// The sidecar live (a real HTTP server on a free port) against a private redis-server.
@Suite("Sidecar on a real Redis", .serialized, .timeLimit(.minutes(3)))
struct SidecarRedisTests {
    static func withRedis(_ body: (LocalRedisServer, RedisClient) async throws -> Void) async throws {
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let observer = try RedisClient(configuration: try RedisClientConfiguration(url: server.url))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await observer.run() }
            defer { group.cancelAll() }
            try await body(server, observer)
        }
    }

    @Test func inSharedModeHealthReportsRedisAndMetricsCountItsCommands() async throws {
        try await Self.withRedis { server, _ in
            let sidecar = try await makeSidecar(["REDIS_URL": server.url, "FLOODGATE_PORT": "0", "FLOODGATE_BUDGET": "1000000"])
            try await sidecar.makeApplication().test(.live) { client in
                try await eventually("shared mode") { sidecar.modeName == "shared" }
                let health = try await client.send(.get, "/api/health")
                #expect(health.status == .ok && health.object["mode"] as? String == "shared")
                let redis = try #require(health.object["redis"] as? [String: Any])
                #expect(redis["reachable"] as? Bool == true && (redis["latencyMs"] as? Double ?? -1) >= 0)
                #expect((health.object["budget"] as? [String: Any])?["level"] as? String == "normal")
                let permit = try #require(try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T1"}"#).object["permit"] as? String)
                #expect(try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","outcome":"success"}"#).status == .ok)
                let metrics = try await client.send(.get, "/metrics").text
                #expect(metrics.contains(#"floodgate_redis_commands_total{"#) && metrics.contains(#"component="membership""#))
                #expect(metrics.contains(#"component="health""#), "the health check's PING is counted too")
                let dashboard = try await client.send(.get, "/api/dashboard")
                let points = try #require(dashboard.object["points"] as? [[String: Any]])
                let counted = points.flatMap { ($0["byComponent"] as? [String: Int] ?? [:]).values }.reduce(0, +)
                #expect(counted > 0, "the chart has data")
            }
        }
    }

    @Test func aBreakerForcedOnOneSidecarRefusesCallsOnAnother() async throws {
        try await Self.withRedis { server, _ in
            let settings = ["REDIS_URL": server.url, "FLOODGATE_PORT": "0", "FLEET_SIZE": "2"]
            let a = try await makeSidecar(settings.merging(["INSTANCE_INDEX": "0"]) { $1 })
            let b = try await makeSidecar(settings.merging(["INSTANCE_INDEX": "1"]) { $1 })
            try await a.makeApplication().test(.live) { clientA in
                try await b.makeApplication().test(.live) { clientB in
                    try await eventually("both in shared mode") { a.modeName == "shared" && b.modeName == "shared" }
                    #expect(try await clientA.send(.post, "/v1/breakers/hubspot", #"{"state":"open"}"#).status == .ok)
                    try await eventually("b reports the breaker forced open") {
                        try await clientB.send(.get, "/v1/keys/hubspot/T1").object["breaker"] as? String == "forcedOpen"
                    }
                    let refused = try await clientB.send(.post, "/v1/acquire", #"{"integration":"hubspot","tenant":"T1"}"#)
                    #expect(refused.errorCode == "breaker_open")
                }
            }
        }
    }

    @Test func gracefulShutdownGivesBackLeasedCapacity() async throws {
        try await Self.withRedis { server, observer in
            // A concurrency limit of 1 on a fleet of 1: the whole limit is the pool's, leased in Redis.
            let sidecar = try await makeSidecar([
                "REDIS_URL": server.url, "FLOODGATE_PORT": "0", "FLOODGATE_INTEGRATIONS": "acme", "FLOODGATE_LIMITS_ACME": "concurrency:1",
            ])
            let leases = "fg:{acme:t}:cc:0"
            try await sidecar.makeApplication().test(.live) { client in
                try await eventually("shared mode") { sidecar.modeName == "shared" }
                let acquired = try await client.send(.post, "/v1/acquire", #"{"integration":"acme","tenant":"t"}"#)
                #expect(acquired.status == .ok)
                #expect(try await observer.send(RedisCommand("ZCARD", leases)).int() == 1)
                #expect(try await client.send(.post, "/v1/acquire", #"{"integration":"acme","tenant":"t"}"#).errorCode == "rate_limited")
            }
            // The application has shut down: the permit never recorded was given back, its lease released.
            #expect(try await observer.send(RedisCommand("ZCARD", leases)).int() == 0)
        }
    }

    /// `PUT /v1/admin/redis` switches Redis off and on: only with a token, off at once (health says localOnly and
    /// nothing more reaches Redis), on again back to shared.
    @Test func theAdminKillSwitchTurnsRedisOffAndOnWithTheToken() async throws {
        try await Self.withRedis { server, observer in
            let token = "admin-token-\(UInt64.random(in: 0...UInt64.max))"
            let sidecar = try await makeSidecar(["REDIS_URL": server.url, "FLOODGATE_TOKEN": token])
            let open = try await makeSidecar(["REDIS_URL": server.url])
            try await open.makeApplication().test(.router) { client in
                let refused = try await client.send(.put, "/v1/admin/redis", #"{"enabled":false}"#)
                #expect(refused.status == .forbidden && refused.text.contains("admin_disabled"))
            }
            try await sidecar.makeApplication().test(.live) { client in
                let auth: HTTPFields = [.authorization: "Bearer \(token)"]
                try await eventually("shared") { try await client.send(.get, "/api/health").object["mode"] as? String == "shared" }
                #expect(try await client.send(.put, "/v1/admin/redis", #"{"enabled":false}"#).status == .unauthorized)
                let off = try await client.send(.put, "/v1/admin/redis", #"{"enabled":false}"#, headers: auth)
                #expect(off.object["enabled"] as? Bool == false && off.object["mode"] as? String == "localOnly", "\(off.text)")
                let before = try await observer.commandStats()
                for index in 0..<20 {
                    let body = #"{"integration":"slack","tenant":"T\#(index)"}"#
                    let permit = try #require(try await client.send(.post, "/v1/acquire", body, headers: auth).object["permit"] as? String)
                    _ = try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","outcome":"success"}"#, headers: auth)
                }
                let health = try await client.send(.get, "/api/health").object
                #expect(health["mode"] as? String == "localOnly")
                #expect((health["redis"] as? [String: Any])?["suspended"] as? Bool == true)
                var after = try await observer.commandStats()
                after["info"] = before["info"]
                #expect(after == before, "nothing sent while off")
                let on = try await client.send(.put, "/v1/admin/redis", #"{"enabled":true}"#, headers: auth)
                #expect(on.object["enabled"] as? Bool == true)
                try await eventually("shared again") { try await client.send(.get, "/api/health").object["mode"] as? String == "shared" }
            }
        }
    }

    @Test func suspendRedisSendsNothingEvenWithAURL() async throws {
        try await Self.withRedis { server, observer in
            try await observer.configResetStat()
            let sidecar = try await makeSidecar(["REDIS_URL": server.url, "SUSPEND_REDIS": "true", "FLOODGATE_PORT": "0"])
            try await sidecar.makeApplication().test(.live) { client in
                for _ in 0..<20 {
                    let permit = try #require(try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T1"}"#).object["permit"] as? String)
                    _ = try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","outcome":"success"}"#)
                }
                #expect(try await client.send(.get, "/api/health").object["mode"] as? String == "localOnly")
                #expect(sidecar.redis?.isConnected == false, "not even connected while switched off")
            }
            var stats = try await observer.commandStats()
            stats["info"] = nil
            stats["config|resetstat"] = nil
            #expect(stats.isEmpty, "\(stats)")
        }
    }
}

/// Secrets (the Redis password, the sidecar's token) never leave the process: not in logs, health, metrics, the
/// dashboard or error bodies.
@Suite("Sidecar secrets", .serialized, .timeLimit(.minutes(3)))
struct SidecarSecretTests {
    @Test func theRedisPasswordAndTheTokenAppearNowhere() async throws {
        let password = "pw-\(UInt64.random(in: 0...UInt64.max))"
        let token = "token-\(UInt64.random(in: 0...UInt64.max))"
        let server = try await LocalRedisServer.start(.init(arguments: ["--requirepass", password]))
        defer { server.stop() }
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "floodgate.test") { _ in handler }
        logger.logLevel = .trace
        let configuration = try await SidecarConfiguration.load(
            flags: ["redis.url": "redis://:\(password)@127.0.0.1:\(server.port)", "floodgate.token": token, "floodgate.port": "0"],
            environment: [:]
        )
        let sidecar = try Sidecar(configuration: configuration, logger: logger)
        try await sidecar.makeApplication().test(.live) { client in
            try await eventually("shared mode: the password works") { sidecar.modeName == "shared" }
            var bodies: [String] = []
            for uri in ["/api/health", "/metrics", "/", "/api/dashboard"] { bodies.append(try await client.send(.get, uri).text) }
            bodies.append(try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T1"}"#).text)
            bodies.append(try await client.send(.post, "/v1/acquire", #"{"integration":"slack""#, headers: [.authorization: "Bearer \(token)"]).text)
            for body in bodies {
                #expect(!body.contains(password) && !body.contains(token))
            }
        }
        let logged = handler.entries.map { "\($0.message) \($0.metadata)" }
        #expect(!logged.isEmpty, "something was logged at trace level")
        #expect(logged.allSatisfy { !$0.contains(password) && !$0.contains(token) })
    }

    /// The error path: a wrong password is refused by Redis (logged, counted, health 503) and appears nowhere either.
    @Test func aWrongRedisPasswordAppearsNowhere() async throws {
        let wrong = "wrong-\(UInt64.random(in: 0...UInt64.max))"
        let server = try await LocalRedisServer.start(.init(arguments: ["--requirepass", "right-\(UInt64.random(in: 0...UInt64.max))"]))
        defer { server.stop() }
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "floodgate.test") { _ in handler }
        logger.logLevel = .trace
        let configuration = try await SidecarConfiguration.load(
            flags: ["redis.url": "redis://:\(wrong)@127.0.0.1:\(server.port)", "floodgate.port": "0"],
            environment: [:]
        )
        let sidecar = try Sidecar(configuration: configuration, logger: logger)
        try await sidecar.makeApplication().test(.live) { client in
            try await eventually("Redis refused the password") { (sidecar.redis?.accounting.connectionAttempts().failed ?? 0) >= 1 }
            let health = try await client.send(.get, "/api/health")
            #expect(health.status == .serviceUnavailable)
            var bodies = [health.text]
            for uri in ["/metrics", "/", "/api/dashboard"] { bodies.append(try await client.send(.get, uri).text) }
            bodies.append(try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T1"}"#).text)
            bodies.append(try await client.send(.post, "/v1/acquire", #"{"integration":"#).text)
            #expect(bodies.allSatisfy { !$0.contains(wrong) })
        }
        let logged = handler.entries.map { "\($0.message) \($0.metadata)" }
        #expect(logged.contains { $0.contains("Redis rejected the connection") }, "the rejection is logged")
        #expect(logged.allSatisfy { !$0.contains(wrong) })
    }
}
