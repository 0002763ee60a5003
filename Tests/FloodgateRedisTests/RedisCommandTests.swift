import FloodgateRESP
import MetricsTestKit
import NIOCore
import Testing
@testable import FloodgateRedis

@Suite("Commands, URLs, scripts, back-off and accounting", .timeLimit(.minutes(3)))
struct RedisCommandTests {
    @Test func encodesCommandsAndNamesThemLikeCommandStats() {
        let get = RedisCommand("GET", "key")
        #expect(String(buffer: get.encoded) == "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
        #expect(get.accountingName == "get")
        let tracking = RedisCommand("CLIENT TRACKING", "ON", "BCAST")
        #expect(String(buffer: tracking.encoded) == "*4\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n$5\r\nBCAST\r\n")
        #expect(tracking.accountingName == "client|tracking")
        let mixed = RedisCommand("SET", "k", 42, ByteBuffer(string: "v"))
        #expect(String(buffer: mixed.encoded) == "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n42\r\n$1\r\nv\r\n")
        let list = RedisCommand("MGET", arguments: ["a", "b", "c"])
        #expect(String(buffer: list.encoded) == "*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n")
        let bare = RedisCommand("PING")
        #expect(String(buffer: bare.encoded) == "*1\r\n$4\r\nPING\r\n")
    }

    @Test func parsesRedisURLs() throws {
        let full = try RedisClientConfiguration(url: "rediss://alice:p%40ss@cache.example:6380/2?timeout=0.5&name=app")
        #expect(full.host == "cache.example")
        #expect(full.port == 6380)
        #expect(full.username == "alice")
        #expect(full.password == "p@ss")
        #expect(full.database == 2)
        #expect(full.tls != nil)
        #expect(full.commandTimeout == .milliseconds(500))
        #expect(full.clientName == "app")
        let plain = try RedisClientConfiguration(url: "redis://localhost")
        #expect(plain.port == 6379 && plain.tls == nil && plain.password == nil && plain.database == 0)
        let passwordOnly = try RedisClientConfiguration(url: "redis://:secret@127.0.0.1:7000")
        #expect(passwordOnly.username == nil && passwordOnly.password == "secret")
        let ipv6 = try RedisClientConfiguration(url: "redis://[::1]:7000")
        #expect(ipv6.host == "::1")
    }

    @Test(arguments: [
        ("http://localhost", "unsupported URL scheme"),
        ("redis://", "no host"),
        ("redis://host/abc", "not a database number"),
        ("redis://host?timeout=-1", "timeout"),
        ("redis://host?bogus=1", "unknown Redis URL option"),
        ("not a url at all", "URL"),
    ])
    func rejectsBadURLsClearly(url: String, expected: String) {
        let error = #expect(throws: RedisClientError.self) { try RedisClientConfiguration(url: url) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
    }

    @Test func descriptionNeverShowsThePassword() throws {
        let configuration = try RedisClientConfiguration(url: "redis://user:hunter2@host:1/0")
        #expect("\(configuration)" == "redis://user:***@host:1/0")
    }

    @Test func sha1MatchesKnownVectors() {
        #expect(SHA1.hexDigest("".utf8) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hexDigest("abc".utf8) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(
            SHA1.hexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        )
        #expect(SHA1.hexDigest(Array(repeating: UInt8(ascii: "a"), count: 1_000_000)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        #expect(RedisScript("return 1").sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    }

    @Test func backoffGrowsWithJitterAndIsCapped() {
        let backoff = RedisClientConfiguration.Backoff(initial: .milliseconds(10), maximum: .milliseconds(100))
        var generator = SystemRandomNumberGenerator()
        for attempt in 1...20 {
            let ceiling = min(Duration.milliseconds(100), .milliseconds(10) * (1 << (attempt - 1)))
            for _ in 0..<50 {
                let delay = backoff.delay(attempt: attempt, using: &generator)
                #expect(delay <= ceiling && delay >= ceiling / 2)
            }
        }
    }

    @Test func accountingSnapshotsAndMetrics() {
        let accounting = RedisCommandAccounting()
        accounting.record(command: "get", component: .cache)
        accounting.record(command: "get", component: .cache)
        let before = accounting.snapshot()
        accounting.record(command: "incrby", component: .rateLimit, count: 3)
        accounting.record(command: "get", component: .breaker)
        let delta = accounting.snapshot().subtracting(before)
        #expect(delta.total == 4)
        #expect(delta.byComponent == [.rateLimit: 3, .breaker: 1])
        #expect(delta.byCommand == ["incrby": 3, "get": 1])
        #expect(accounting.snapshot().count(command: "get") == 3)
        #expect(accounting.snapshot().count(component: .cache) == 2)
    }

    @Test func accountingReportsSwiftMetricsCounters() throws {
        let metrics = TestMetrics()
        let accounting = RedisCommandAccounting(metricsFactory: metrics)
        accounting.record(command: "get", component: .cache)
        accounting.record(command: "get", component: .cache, count: 2)
        accounting.record(command: "set", component: .cache)
        let gets = try metrics.expectCounter(
            RedisCommandAccounting.metricLabel,
            [("component", "cache"), ("command", "get")]
        )
        #expect(gets.totalValue == 3)
        let sets = try metrics.expectCounter(
            RedisCommandAccounting.metricLabel,
            [("component", "cache"), ("command", "set")]
        )
        #expect(sets.totalValue == 1)
    }

    @Test func replyConversions() throws {
        #expect(try RESPValue.integer(5).int() == 5)
        #expect(try RESPValue.bulkString("12").int() == 12)
        #expect(try RESPValue.boolean(true).int() == 1)
        #expect(try RESPValue.double(1.5).double() == 1.5)
        #expect(try RESPValue.null.optionalString() == nil)
        #expect(throws: RedisClientError.self) { try RESPValue.array([]).optionalBytes() }
        #expect(try RESPValue.array([.bulkString("a"), .integer(1)]).pairs().count == 1)
        let error = #expect(throws: RedisClientError.self) {
            try RESPValue.simpleError("WRONGTYPE Operation against a key").throwingServerError()
        }
        #expect(error?.isServerError("WRONGTYPE") == true)
    }
}
