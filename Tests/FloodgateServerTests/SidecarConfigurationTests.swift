import Floodgate
import Foundation
import Testing

@testable import FloodgateServer

/// Configuration: flags over environment over file over defaults; every bad value named by its key; secrets never
/// repeated.
@Suite("Sidecar configuration", .timeLimit(.minutes(3)))
struct SidecarConfigurationTests {
    /// A JSON configuration file in a temporary directory.
    static func withFile(_ json: String, _ body: (String) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("floodgate-\(UInt64.random(in: 0...UInt64.max)).json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await body(path)
    }

    @Test func theDefaultIsTheEmbeddedLocalOnlySidecarOnLoopback() async throws {
        let configuration = try await SidecarConfiguration.load(environment: [:])
        #expect(configuration.host == "127.0.0.1" && configuration.port == 8080)
        #expect(configuration.redisURL == nil && configuration.token == nil)
        #expect(configuration.integrations == ["slack", "hubspot", "salesforce"])
        #expect(configuration.guards.profiles["slack"] == .slack())
        #expect(configuration.cacheInvalidation == .automatic && !configuration.configureKeyspaceNotifications)
        let publishing = try await SidecarConfiguration.load(environment: ["CACHE_INVALIDATION": "publish", "CACHE_KEYSPACE_CONFIGURE": "true"])
        #expect(publishing.cacheInvalidation == .publish && publishing.configureKeyspaceNotifications)
    }

    @Test func flagsOverrideTheEnvironmentWhichOverridesTheFile() async throws {
        let file = #"{"floodgate": {"port": 9000, "host": "127.0.0.2", "integrations": ["acme"], "limits": {"acme": ["rolling:10/1s", "concurrency:3"]}}, "fleet": {"size": 3}}"#
        try await Self.withFile(file) { path in
            let fromFile = try await SidecarConfiguration.load(environment: ["FLOODGATE_CONFIG": path])
            #expect(fromFile.port == 9000 && fromFile.host == "127.0.0.2" && fromFile.guards.fleetSize == 3)
            #expect(fromFile.integrations == ["acme"])
            #expect(fromFile.guards.profiles["acme"] == .generic([.rollingWindow(limit: 10, window: .seconds(1)), .concurrency(limit: 3, leaseTimeout: .seconds(300))]))
            let fromEnvironment = try await SidecarConfiguration.load(environment: ["FLOODGATE_CONFIG": path, "FLOODGATE_PORT": "9001"])
            #expect(fromEnvironment.port == 9001 && fromEnvironment.host == "127.0.0.2")
            let fromFlags = try await SidecarConfiguration.load(flags: ["floodgate.port": "9002"], environment: ["FLOODGATE_CONFIG": path, "FLOODGATE_PORT": "9001"])
            #expect(fromFlags.port == 9002)
        }
    }

    @Test func clockSkewIsReadAsADuration() async throws {
        #expect(try await SidecarConfiguration.load(environment: [:]).guards.maximumClockSkew == .milliseconds(250))
        #expect(try await SidecarConfiguration.load(environment: ["CLOCK_SKEW": "20ms"]).guards.maximumClockSkew == .milliseconds(20))
    }

    @Test func theBreakersRunOfFailuresIsConfigurable() async throws {
        #expect(try await SidecarConfiguration.load(environment: [:]).guards.defaultBreaker.consecutiveFailures == 5)
        let off = try await SidecarConfiguration.load(environment: ["BREAKER_CONSECUTIVE_FAILURES": "0"])
        #expect(off.guards.breakerPolicy(for: "hubspot").consecutiveFailures == 0)
    }

    @Test(arguments: [
        (["FLOODGATE_PORT": "abc"], "floodgate.port"),
        (["BREAKER_CONSECUTIVE_FAILURES": "-1"], "breaker.consecutive.failures"),
        (["BREAKER_CONSECUTIVE_FAILURES": "five"], "breaker.consecutive.failures"),
        (["FLOODGATE_PORT": "70000"], "floodgate.port"),
        (["SUSPEND_REDIS": "maybe"], "suspend.redis"),
        (["FALLBACK": "sometimes"], "fallback"),
        (["CLOCK_SKEW": "a little"], "clock.skew"),
        (["FLEET_SIZE": "0"], "fleet.size"),
        (["FLEET_SIZE": "2", "INSTANCE_INDEX": "2"], "instance.index"),
        (["SHARE_FRACTION": "lots"], "share.fraction"),
        (["FLOODGATE_INTEGRATIONS": "slack,Bad Name"], "floodgate.integrations"),
        (["FLOODGATE_INTEGRATIONS": "acme"], "floodgate.limits.acme"),
        (["FLOODGATE_INTEGRATIONS": "acme", "FLOODGATE_LIMITS_ACME": "fixed:0/60s"], "floodgate.limits.acme"),
        (["FLOODGATE_INTEGRATIONS": "acme", "FLOODGATE_LIMITS_ACME": "sliding:5/1s"], "floodgate.limits.acme"),
        (["FLOODGATE_TOKEN": "short"], "floodgate.token"),
        (["FLOODGATE_BUDGET": "-5"], "floodgate.budget"),
        (["FLOODGATE_PERMIT_TIMEOUT": "soon"], "floodgate.permit.timeout"),
        (["FLOODGATE_CONFIG": "/nonexistent/floodgate.json"], "floodgate.config"),
        (["REDIS_TLS_CA": "/etc/passwd"], "redis.tls.ca"),
        (["REDIS_URL": "redis://127.0.0.1:6379", "REDIS_TLS_CA": "/etc/passwd"], "redis.tls.ca"),
        (["REDIS_URL": "rediss://127.0.0.1:6379", "REDIS_TLS_CA": "/nonexistent/ca.pem"], "redis.tls.ca"),
        (["CACHE_INVALIDATION": "tracking"], "cache.invalidation"),
        (["CACHE_KEYSPACE_CONFIGURE": "sometimes"], "cache.keyspace.configure"),
    ] as [([String: String], String?)])
    func eachBadValueIsNamedByItsKeyInOneLine(environment: [String: String], key: String?) async throws {
        do {
            _ = try await SidecarConfiguration.load(environment: environment)
            Issue.record("accepted \(environment)")
        } catch {
            #expect(error.key == key, "\(error)")
            #expect(!error.description.contains("\n"))
            if let key { #expect(error.description.contains(SidecarConfiguration.environmentName(of: key))) }
        }
    }

    @Test func aBadRedisURLIsRefusedWithoutRepeatingItsPassword() async throws {
        let secret = "hunter2-very-secret"
        for url in ["redis://:\(secret)@host:notaport", "http://:\(secret)@host:6379"] {
            let error = await #expect(throws: SidecarConfigurationError.self) {
                try await SidecarConfiguration.load(flags: ["redis.url": url], environment: [:])
            }
            #expect(error?.key == "redis.url")
            #expect(error.map { !$0.description.contains(secret) } == true)
        }
    }

    @Test func policySpecsParseEveryKind() throws {
        #expect(try PolicySpec.parse("fixed:50/60s") == .fixedWindow(limit: 50, window: .seconds(60)))
        #expect(try PolicySpec.parse("rolling:100/10s") == .rollingWindow(limit: 100, window: .seconds(10)))
        #expect(try PolicySpec.parse("bucket:10/1s:20") == .tokenBucket(rate: 10, period: .seconds(1), burst: 20))
        #expect(try PolicySpec.parse("concurrency:25") == .concurrency(limit: 25, leaseTimeout: .seconds(300)))
        #expect(try PolicySpec.parse("concurrency:25/90s") == .concurrency(limit: 25, leaseTimeout: .seconds(90)))
        #expect(try PolicySpec.parse("rolling:250000/1d") == .rollingWindow(limit: 250_000, window: .seconds(86_400)))
        #expect(PolicySpec.duration("250ms") == .milliseconds(250) && PolicySpec.duration("5m") == .seconds(300))
        for bad in ["", "fixed", "fixed:50", "fixed:50/60", "fixed:-1/60s", "bucket:10/1s", "rolling:5/0s", "fixed:5/99999999999999999d"] {
            #expect(throws: SidecarConfigurationError.self, "\(bad)") { try PolicySpec.parse(bad) }
        }
    }
}
