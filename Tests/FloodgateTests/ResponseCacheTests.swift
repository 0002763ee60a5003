import FloodgateTestSupport
import Synchronization
import Testing
@testable import Floodgate
import FloodgateTesting

/// The response cache's near tier on a manual clock (memory store: no Redis).
@Suite("Response cache, near tier", .timeLimit(.minutes(3)))
struct ResponseCacheTests {
    static let start = WallInstant(nanosecondsSince1970: 1_767_225_600 * 1_000_000_000)

    struct Reply: Codable, Sendable, Hashable {
        var text: String
    }

    /// Counts loader runs.
    final class Loads: Sendable {
        let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .relaxed) }
        func next() -> Int { count.add(1, ordering: .relaxed).newValue }
    }

    func cache(_ clock: ManualClock, _ configuration: ResponseCache.Configuration = .init()) throws -> ResponseCache {
        try ResponseCache(configuration: configuration, store: .memory, clock: clock)
    }

    @Test func aHitServesTheLoadedValueUntilItsTTL() async throws {
        let clock = ManualClock(start: Self.start)
        let cache = try cache(clock)
        let loads = Loads()
        let load = { @Sendable () async throws -> Reply? in Reply(text: "v\(loads.next())") }
        #expect(try await cache.value(for: "k", ttl: .seconds(60), loader: load) == Reply(text: "v1"))
        clock.advance(by: .seconds(59))
        #expect(try await cache.value(for: "k", ttl: .seconds(60), loader: load) == Reply(text: "v1"))
        clock.advance(by: .seconds(1))
        #expect(try await cache.value(for: "k", ttl: .seconds(60), loader: load) == Reply(text: "v2"), "expired")
        #expect(cache.statistics.nearHits == 1 && cache.statistics.loads == 2)
        #expect(cache.invalidationMode == .none)
    }

    @Test func missesAreRememberedForTheNegativeTTL() async throws {
        let clock = ManualClock(start: Self.start)
        let cache = try cache(clock, .init(negativeTTL: .seconds(5)))
        let loads = Loads()
        let load = { @Sendable () async throws -> Reply? in _ = loads.next(); return nil }
        for _ in 0..<10 { #expect(try await cache.value(for: "gone", ttl: .seconds(60), loader: load) == nil) }
        #expect(loads.value == 1)
        clock.advance(by: .seconds(5))
        _ = try await cache.value(for: "gone", ttl: .seconds(60), loader: load)
        #expect(loads.value == 2)
        #expect(cache.statistics.negativeHits == 9)
    }

    @Test func concurrentMissesShareOneLoad() async throws {
        let cache = try cache(ManualClock(start: Self.start))
        let loads = Loads()
        let gate = AsyncStream<Void>.makeStream()
        let load = { @Sendable () async throws -> Reply? in
            _ = loads.next()
            for await _ in gate.stream { break }
            return Reply(text: "once")
        }
        let replies = try await withDeadline(.seconds(10), "twenty concurrent misses are answered") {
            try await withThrowingTaskGroup(of: Reply?.self) { group in
                for _ in 0..<20 { group.addTask { try await cache.value(for: "k", ttl: .seconds(60), loader: load) } }
                try await eventually("the loader runs") { loads.value > 0 }
                gate.continuation.yield()
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(replies == Array(repeating: Reply(text: "once"), count: 20))
        #expect(loads.value == 1, "twenty concurrent misses, one loader run")
    }

    @Test func staleWhileRevalidateServesTheOldValueDuringOneReload() async throws {
        let clock = ManualClock(start: Self.start)
        let cache = try cache(clock, .init(staleWhileRevalidate: .seconds(30)))
        let loads = Loads()
        let load = { @Sendable () async throws -> Reply? in Reply(text: "v\(loads.next())") }
        _ = try await cache.value(for: "k", ttl: .seconds(10), loader: load)
        clock.advance(by: .seconds(15))
        #expect(try await cache.value(for: "k", ttl: .seconds(10), loader: load) == Reply(text: "v1"), "stale, served at once")
        try await eventually("the background reload runs") { loads.value == 2 }
        try await eventually("the reloaded value is served") {
            try await cache.value(for: "k", ttl: .seconds(10), loader: load) == Reply(text: "v2")
        }
        #expect(loads.value == 2, "one background reload")
    }

    @Test func theNearCacheIsBoundedByEntriesAndBytes() {
        var near = NearCache(maximumEntries: 100, maximumBytes: 10_000)
        for index in 0..<1_000 { near.insert("k\(index)", value: index, bytes: 50, expiresAt: .max, staleUntil: .max, at: 0) }
        #expect(near.count == 100)
        for index in 0..<1_000 { near.insert("b\(index)", value: index, bytes: 400, expiresAt: .max, staleUntil: .max, at: 0) }
        #expect(near.bytes <= 10_000 && near.count == 25)
        near.insert("huge", value: 0, bytes: 20_000, expiresAt: .max, staleUntil: .max, at: 0)
        if case .miss = near.lookup("huge", at: 0) {} else { Issue.record("a value larger than the cache is not kept") }
    }

    @Test func clockEvictionKeepsHotKeys() {
        var near = NearCache(maximumEntries: 100, maximumBytes: 1 << 30)
        for index in 0..<100 { near.insert("hot\(index % 10)-\(index)", value: index, bytes: 1, expiresAt: .max, staleUntil: .max, at: 0) }
        let hot = (0..<10).map { "hot-key-\($0)" }
        for key in hot { near.insert(key, value: 0, bytes: 1, expiresAt: .max, staleUntil: .max, at: 0) }
        for round in 0..<1_000 {
            for key in hot { _ = near.lookup(key, at: 0) }
            near.insert("cold\(round)", value: round, bytes: 1, expiresAt: .max, staleUntil: .max, at: 0)
        }
        for key in hot {
            if case .miss = near.lookup(key, at: 0) { Issue.record("\(key) was evicted although read every round") }
        }
    }

    @Test func badConfigurationIsRefused() {
        #expect(throws: FloodgateError.self) { try ResponseCache(configuration: .init(maximumEntries: 0), store: .memory) }
        #expect(throws: FloodgateError.self) { try ResponseCache(configuration: .init(keyPrefix: "a b"), store: .memory) }
    }
}
