import Floodgate
import FloodgateLocalRedis
import FloodgateRedis
import FloodgateTestSupport
import Testing

/// The lease script's own key on a real Redis: after every request the ledger has at least its TTL left, yet the
/// script sends `PEXPIRE` (a billed command) about once per TTL, not on every request.
@Suite("The demand ledger's expiry on a real Redis", .timeLimit(.minutes(2)))
struct DemandLedgerExpiryTests {
    static let second: Int64 = 1_000_000_000

    @Test func everyRequestLeavesTheLedgerItsTTLButOnlyTheFirstSetsIt() async throws {
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let client = try RedisClient(configuration: RedisClientConfiguration(host: server.host, port: server.port))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            let ledger = DemandLedger(kind: .rolling, limit: 100, allowanceTotal: 0, window: 10 * Self.second, skew: Self.second / 4)
            let start: Int64 = 1_800_000_000 * Self.second
            func request(_ holder: String, at now: Int64, for span: Int64) -> DemandLedger.Request {
                DemandLedger.Request(
                    holder: holder, now: now, until: now + span, committedUntil: now + span, want: 5, used: 0, demand: 5,
                    joinedAt: start - 3_600 * Self.second, eligibilityWait: 0, eligibleMembers: ["a", "b"]
                )
            }
            try await client.configResetStat()
            // Requests over a minute, from two holders, with clocks a skew apart: one PEXPIRE.
            var expiries = 0
            for step in 0..<12 {
                let holder = step.isMultiple(of: 2) ? "a" : "b"
                let now = start + Int64(step) * 5 * Self.second + (holder == "b" ? Self.second / 4 : 0)
                let asked = request(holder, at: now, for: 10 * Self.second)
                let grant = try await ledger.request(asked, key: "fg:test:ledger", via: client)
                #expect(grant.calls == 5)
                let left = try await client.pttl("fg:test:ledger")
                #expect(left >= ledger.keyTTL(for: asked) / 1_000_000 - 1_000, "step \(step): \(left) ms left")
                expiries = try await client.commandStats()["pexpire"] ?? 0
            }
            #expect(expiries == 1, "PEXPIRE once, when the ledger was made")
            // A lease longer than the ledger has left extends it at once.
            let long = request("a", at: start + 60 * Self.second, for: 3_600 * Self.second)
            _ = try await ledger.request(long, key: "fg:test:ledger", via: client)
            #expect(try await client.pttl("fg:test:ledger") >= ledger.keyTTL(for: long) / 1_000_000 - 1_000)
            #expect(try await client.commandStats()["pexpire"] == 2)
        }
    }
}
