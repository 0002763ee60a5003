import Floodgate
import FloodgateLocalRedis
import FloodgateRedis
import Testing

/// Several instances with skewed clocks lease permits from one real Redis on virtual time; every window is then
/// checked against the limit using the true time of each allowed call.
@Suite("Grant ledger on a real Redis", .serialized, .timeLimit(.minutes(3)))
struct GrantLedgerTests {
    static let second: Int64 = 1_000_000_000

    struct Instance {
        let clockOffset: Int64
        var holder = LeaseHolder()
    }

    /// Replays `events` call attempts spread over `span` of true time; returns the true times of allowed calls and
    /// the number of grant requests made.
    static func replay(
        ledger: GrantLedger,
        key: String,
        redis: some RedisCommandSending,
        seed: UInt64,
        instances count: Int,
        events: Int,
        span: Int64,
        skew: Int64
    ) async throws -> (allowed: [Int64], requests: Int) {
        var generator = SeededGenerator(seed: seed)
        var instances = (0..<count).map { _ in Instance(clockOffset: Int64.random(in: -skew / 2...skew / 2, using: &generator)) }
        var now: Int64 = 1_767_225_600 * second
        var allowed: [Int64] = []
        var requests = 0
        for _ in 0..<events {
            now += Int64.random(in: 0...(2 * span / Int64(events)), using: &generator)
            let index = Int.random(in: 0..<count, using: &generator)
            let local = now + instances[index].clockOffset
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<3:
                _ = instances[index].holder.surrender()  // crashes mid-lease: its permits are simply lost
                continue
            case 3..<6:
                if let lease = instances[index].holder.surrender() {  // leaves politely, returning what is unused
                    try await ledger.returnPermits(lease.remaining, key: key, startSlot: lease.startSlot, via: redis)
                }
                continue
            default:
                break
            }
            switch instances[index].holder.take(at: local, under: ledger) {
            case .allowed:
                allowed.append(now)
            case .refused:
                break
            case .needsGrant(let start):
                requests += 1
                let granted = try await ledger.requestGrant(
                    Int.random(in: 1...8, using: &generator),
                    key: key,
                    startSlot: start,
                    via: redis
                )
                if instances[index].holder.receive(granted, startSlot: start, at: local, under: ledger) {
                    allowed.append(now)
                }
            }
        }
        return (allowed, requests)
    }

    @Test(arguments: 0..<6)
    func rollingWindowIsNeverExceededAcrossSkewedInstances(seed: UInt64) async throws {
        try await withRedis { client in
            let window = 10 * Self.second
            let skew = Self.second / 4
            let ledger = GrantLedger.rolling(limit: 100, window: .seconds(10), slots: 10, leaseSlots: 3, skew: .milliseconds(250))
            let (allowed, requests) = try await Self.replay(
                ledger: ledger,
                key: "fg:{test:rolling-\(seed)}:rl",
                redis: client,
                seed: seed,
                instances: 4,
                events: 3_000,
                span: 120 * Self.second,
                skew: skew
            )
            var start = 0
            var busiest = 0
            for end in allowed.indices {
                while allowed[end] - allowed[start] >= window { start += 1 }
                busiest = max(busiest, end - start + 1)
            }
            #expect(busiest <= 100, "no interval of 10 s holds more than 100 allowed calls")
            #expect(busiest >= 50, "the limit is actually approached")
            #expect(allowed.count > requests, "most calls are decided locally, without a grant request")
        }
    }

    @Test(arguments: 0..<6)
    func fixedWindowIsNeverExceededAcrossSkewedInstances(seed: UInt64) async throws {
        try await withRedis { client in
            let window = 60 * Self.second
            let ledger = GrantLedger.fixed(limit: 50, window: .seconds(60), skew: .milliseconds(250))
            let (allowed, _) = try await Self.replay(
                ledger: ledger,
                key: "fg:{test:fixed-\(seed)}:rl",
                redis: client,
                seed: seed,
                instances: 4,
                events: 3_000,
                span: 600 * Self.second,
                skew: Self.second / 4
            )
            var perWindow: [Int64: Int] = [:]
            for time in allowed { perWindow[time / window, default: 0] += 1 }
            #expect(perWindow.values.allSatisfy { $0 <= 50 }, "no aligned minute holds more than 50 calls")
            #expect(perWindow.values.contains { $0 >= 40 }, "the limit is actually approached")
        }
    }

    /// Two instances whose clocks are 400 ms apart (each within the 250 ms bound): the slow one spends a grant at the
    /// very end of its slot, the fast one asks eleven slots later by its own clock — less than one window later in
    /// real time. Without widening grants by the skew, the ledger would hand out the limit twice inside one window.
    @Test func skewedClocksCannotFitTwoLimitsIntoOneWindow() async throws {
        try await withRedis { client in
            let ledger = GrantLedger.rolling(limit: 10, window: .seconds(10), slots: 10, leaseSlots: 1, skew: .milliseconds(250))
            let key = "fg:{test:skew}:rl"
            let g = Self.second
            let s0: Int64 = 1_767_225_600
            // Slow instance (clock 200 ms behind): real time (s0+1)g + 100 ms reads (s0+1)g - 100 ms, slot s0.
            let slowLocal = (s0 + 1) * g - g / 10
            #expect(try await ledger.requestGrant(10, key: key, startSlot: ledger.slot(at: slowLocal), via: client) == 10)
            // Fast instance (clock 200 ms ahead): real time (s0+11)g - 100 ms reads (s0+11)g + 100 ms, slot s0+11.
            let fastLocal = (s0 + 11) * g + g / 10
            let realGap = ((s0 + 11) * g - g / 10) - ((s0 + 1) * g + g / 10)
            #expect(realGap < 10 * g, "both uses fall inside one 10 s window in real time")
            let second = try await ledger.requestGrant(10, key: key, startSlot: ledger.slot(at: fastLocal), via: client)
            #expect(second == 0, "the widened grants overlap a common window, so the limit is not handed out twice")
        }
    }

    @Test func returnedPermitsCanBeGrantedAgain() async throws {
        try await withRedis { client in
            let ledger = GrantLedger.fixed(limit: 10, window: .seconds(60))
            let key = "fg:{test:return}:rl"
            #expect(try await ledger.requestGrant(8, key: key, startSlot: 1_000, via: client) == 8)
            #expect(try await ledger.requestGrant(8, key: key, startSlot: 1_000, via: client) == 2)
            #expect(try await ledger.requestGrant(1, key: key, startSlot: 1_000, via: client) == 0)
            try await ledger.returnPermits(5, key: key, startSlot: 1_000, via: client)
            #expect(try await ledger.requestGrant(8, key: key, startSlot: 1_000, via: client) == 5)
            #expect(try await ledger.requestGrant(8, key: key, startSlot: 1_001, via: client) == 8, "a new window")
        }
    }
}


/// Runs `body` with a client of a private redis-server, with timeouts generous enough for a loaded 2-core machine.
func withRedis(_ body: (RedisClient) async throws -> Void) async throws {
    let server = try await LocalRedisServer.start()
    defer { server.stop() }
    var configuration = RedisClientConfiguration(host: server.host, port: server.port)
    configuration.commandTimeout = .seconds(10)
    configuration.connectTimeout = .seconds(10)
    let client = try RedisClient(configuration: configuration)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await client.run() }
        defer { group.cancelAll() }
        try await body(client)
    }
}
