import Configuration
import Floodgate
import FloodgateTesting
import FloodgateTestSupport
import Testing

/// Floodgate in local-only mode (memory store): every decision on a manual clock, no Redis anywhere.
@Suite("Floodgate in local-only mode", .timeLimit(.minutes(3)))
struct LocalOnlyFloodgateTests {
    static let start = WallInstant(nanosecondsSince1970: 1_767_225_600 * 1_000_000_000)

    static func floodgate(
        _ profiles: [String: ProviderProfile],
        fleetSize: Int = 1,
        index: Int = 0,
        breaker: BreakerPolicy = BreakerPolicy(),
        clock: ManualClock = ManualClock(start: start)
    ) throws -> Floodgate {
        try Floodgate(
            configuration: FloodgateConfiguration(
                profiles: profiles,
                defaultBreaker: breaker,
                fleetSize: fleetSize,
                instanceIndex: index,
                backoffJitter: .seconds(2),
                randomSeed: 42
            ),
            store: .memory,
            clock: clock
        )
    }

    /// Tries one call; true when allowed (the permit is recorded as a success).
    static func attempt(_ floodgate: Floodgate, _ key: GuardKey) async -> Bool {
        guard let permit = try? await floodgate.acquire(key) else { return false }
        floodgate.record(permit, .success)
        return true
    }

    @Test(arguments: [(1, 50), (4, 50), (3, 100), (7, 5), (4, 1)])
    func sharesAddUpToExactlyTheLimit(fleetSize: Int, limit: Int) async throws {
        let clock = ManualClock(start: Self.start)
        let key = try GuardKey(integration: "api", tenant: "t")
        let profile = ProviderProfile.generic([.fixedWindow(limit: limit, window: .seconds(60))])
        var allowed: [Int] = []
        for index in 0..<fleetSize {
            let instance = try Self.floodgate(["api": profile], fleetSize: fleetSize, index: index, clock: clock)
            var count = 0
            for _ in 0..<(limit + 5) where await Self.attempt(instance, key) { count += 1 }
            allowed.append(count)
        }
        #expect(allowed.reduce(0, +) == limit, "the fleet's shares add up to exactly the limit")
        #expect(allowed.max()! - allowed.min()! <= 1)
    }

    @Test func aFleetInLocalOnlyModeStaysWithinTheLimit() async throws {
        let clock = ManualClock(start: Self.start)
        let key = try GuardKey(integration: "slack", tenant: "T1", operation: "conversations.history")
        let fleet = try (0..<4).map { try Self.floodgate(["slack": .slack()], fleetSize: 4, index: $0, clock: clock) }
        var generator = SeededGenerator(seed: 3)
        var allowedPerMinute: [Int64: Int] = [:]
        for _ in 0..<20_000 {
            clock.advance(by: .milliseconds(Int64.random(in: 0...40, using: &generator)))
            if await Self.attempt(fleet[Int.random(in: 0..<4, using: &generator)], key) {
                allowedPerMinute[clock.now.secondsSince1970 / 60, default: 0] += 1
            }
        }
        #expect(allowedPerMinute.values.allSatisfy { $0 <= 50 }, "tier 3: 50 per minute across the fleet")
        #expect(allowedPerMinute.values.contains { $0 >= 45 }, "and the shares are actually used")
    }

    @Test func aRefusalTakesBackWhatOtherPoliciesGranted() async throws {
        let clock = ManualClock(start: Self.start)
        let key = try GuardKey(integration: "api", tenant: "t")
        let floodgate = try Self.floodgate(
            ["api": .generic([.fixedWindow(limit: 100, window: .seconds(60)), .tokenBucket(rate: 1, period: .seconds(1), burst: 2)])],
            clock: clock
        )
        #expect(await Self.attempt(floodgate, key))
        #expect(await Self.attempt(floodgate, key))
        for _ in 0..<200 { #expect(!(await Self.attempt(floodgate, key)), "the bucket is empty") }
        var allowed = 2
        for _ in 0..<57 {
            clock.advance(by: .seconds(1))
            if await Self.attempt(floodgate, key) { allowed += 1 }
        }
        #expect(allowed == 59, "one per second after the burst, none lost to the 200 refused attempts")
    }

    @Test func connectionLimitsAreSharedByAllOperations() async throws {
        let key = { (operation: String) in try GuardKey(integration: "crm", tenant: "acme", operation: operation) }
        let profile = ProviderProfile(
            connectionLimits: [.fixedWindow(limit: 10, window: .seconds(60))],
            defaultOperationLimits: [.fixedWindow(limit: 8, window: .seconds(60))]
        )
        let floodgate = try Self.floodgate(["crm": profile])
        var allowed = 0
        for index in 0..<40 where await Self.attempt(floodgate, try key("op\(index % 4)")) { allowed += 1 }
        #expect(allowed == 10, "four operations, each under its own 8, together under the connection's 10")
    }

    @Test func aRefusalSaysWhichLimitAndUntilWhen() async throws {
        let key = try GuardKey(integration: "slack", tenant: "T1", operation: "users.list")
        let floodgate = try Self.floodgate(["slack": .slack()])
        for _ in 0..<20 { #expect(await Self.attempt(floodgate, key)) }
        let error = await #expect(throws: FloodgateError.self) { try await floodgate.acquire(key) }
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAt == Self.start.advanced(by: .seconds(60)), "tier 2's window ends at the next minute")
        #expect(error?.isRefusal == true)
    }

    @Test func acquireWaitsOnTheClockUpToItsDeadline() async throws {
        let clock = ManualClock(start: Self.start)
        let key = try GuardKey(integration: "api", tenant: "t")
        let floodgate = try Self.floodgate(["api": .generic([.fixedWindow(limit: 1, window: .seconds(10))])], clock: clock)
        #expect(await Self.attempt(floodgate, key))
        await #expect(throws: FloodgateError.self, "the window ends after the 5 s deadline") {
            try await floodgate.acquire(key, waitingUpTo: .seconds(5))
        }
        let waiter = Task { try await floodgate.acquire(key, waitingUpTo: .seconds(15)) }
        try await eventually("the acquire waits on the clock") { clock.sleeperCount > 0 }
        clock.advance(by: .seconds(10))
        // A call in the next window's first skew margin (250 ms) may still fall in the full window in real time.
        try await eventually("the acquire waits out the skew margin") { clock.sleeperCount > 0 }
        #expect(clock.now == Self.start.advanced(by: .seconds(10)))
        clock.advance(by: .milliseconds(250))
        let permit = try await waiter.value
        #expect(permit.acquiredAt == Self.start.advanced(by: .milliseconds(10_250)))
    }

    @Test func concurrencyPermitsAreHeldUntilTheOutcomeIsRecorded() async throws {
        let key = try GuardKey(integration: "sf", tenant: "org")
        let floodgate = try Self.floodgate(["sf": .generic([.concurrency(limit: 2, leaseTimeout: .seconds(60))])])
        let first = try await floodgate.acquire(key)
        let second = try await floodgate.acquire(key)
        await #expect(throws: FloodgateError.self) { try await floodgate.acquire(key) }
        floodgate.record(first, .success)
        let third = try await floodgate.acquire(key)
        floodgate.record(second, .failure)
        floodgate.record(third, .ignored)
        #expect(await Self.attempt(floodgate, key))
    }

    @Test func callRecordsOutcomesAndCancellationGivesPermitsBack() async throws {
        let key = try GuardKey(integration: "api", tenant: "t")
        let floodgate = try Self.floodgate(["api": .generic([.fixedWindow(limit: 2, window: .seconds(60))])])
        struct Upstream: Error {}
        await #expect(throws: Upstream.self) { try await floodgate.call(key) { throw Upstream() } }
        await #expect(throws: CancellationError.self) { try await floodgate.call(key) { throw CancellationError() } }
        #expect(try await floodgate.call(key) { 7 } == 7, "the cancelled call's permit came back")
        await #expect(throws: FloodgateError.self, "the failed call spent its permit") { try await floodgate.call(key) { 8 } }
    }

    @Test func theBreakerTripsOnLocalEvidenceProbesAndCloses() async throws {
        let clock = ManualClock(start: Self.start)
        let key = try GuardKey(integration: "hubspot", tenant: "t")
        let floodgate = try Self.floodgate(
            [:],
            breaker: BreakerPolicy(minimumCalls: 4, openDuration: .seconds(30), halfOpenProbes: 2),
            clock: clock
        )
        var events = floodgate.breakerEvents().makeAsyncIterator()
        for _ in 0..<4 { floodgate.record(try await floodgate.acquire(key), .failure) }
        #expect(floodgate.breakerState(of: "hubspot") == .open(until: Self.start.advanced(by: .seconds(30))))
        let opened = try await next(&events, "the open event")
        #expect(opened == BreakerEvent(integration: "hubspot", state: .open(until: Self.start.advanced(by: .seconds(30))), at: Self.start))
        let refusal = await #expect(throws: FloodgateError.self) { try await floodgate.acquire(key) }
        #expect(refusal?.code == .breakerOpen)
        #expect(refusal?.retryAt == Self.start.advanced(by: .seconds(30)))
        clock.advance(by: .seconds(30))
        let probe1 = try await floodgate.acquire(key)
        let probe2 = try await floodgate.acquire(key)
        #expect(probe1.isProbe && probe2.isProbe)
        await #expect(throws: FloodgateError.self, "only two probes while half-open") { try await floodgate.acquire(key) }
        floodgate.record(probe1, .success)
        floodgate.record(probe2, .success)
        #expect(floodgate.breakerState(of: "hubspot") == .closed)
        #expect(try await next(&events, "the close event")?.state == .closed, "the close is an event too")
        #expect(await Self.attempt(floodgate, key))
    }

    @Test func shadowModeLetsEveryCallThroughAndCountsTheRefusals() async throws {
        var configuration = FloodgateConfiguration(profiles: [
            "api": .generic([.fixedWindow(limit: 2, window: .seconds(60))]),
            "other": .generic([.fixedWindow(limit: 2, window: .seconds(60))]),
        ])
        configuration.shadowIntegrations = ["api"]
        let floodgate = try Floodgate(configuration: configuration, store: .memory, clock: ManualClock(start: Self.start))
        let key = try GuardKey(integration: "api", tenant: "t")
        var shadowed = 0
        for _ in 0..<5 {
            let permit = try await floodgate.acquire(key)
            if permit.shadowRefusal == .rateLimited { shadowed += 1 }
            floodgate.record(permit, .success)
        }
        #expect(shadowed == 3, "two fit the limit")
        // A shadow permit took no capacity: cancelling it gives none back.
        let cancelled = try #require(try floodgate.tryAcquire(key))
        #expect(cancelled.shadowRefusal == .rateLimited, "the synchronous path too")
        floodgate.record(cancelled, .cancelled)
        let next = try await floodgate.acquire(key)
        #expect(next.shadowRefusal == .rateLimited)
        #expect(floodgate.shadowRefusals == ["api": [.rateLimited: 5]])
        let other = try GuardKey(integration: "other", tenant: "t")
        #expect(await Self.attempt(floodgate, other))
        #expect(await Self.attempt(floodgate, other))
        await #expect(throws: FloodgateError.self, "other integrations still refuse") { try await floodgate.acquire(other) }
    }

    @Test func aForcedOpenBreakerRefusesWithoutARetryTime() async throws {
        let key = try GuardKey(integration: "slack", tenant: "t")
        let floodgate = try Self.floodgate([:])
        try await floodgate.forceBreaker("slack", open: true)
        let error = await #expect(throws: FloodgateError.self) { try await floodgate.acquire(key) }
        #expect(error?.code == .breakerOpen && error?.retryAt == nil)
        try await floodgate.forceBreaker("slack", open: nil)
        #expect(await Self.attempt(floodgate, key))
    }

    @Test func aThrottledResponseHoldsTheConnectionBackUntilRetryAfterPlusJitter() async throws {
        let clock = ManualClock(start: Self.start)
        let key = try GuardKey(integration: "slack", tenant: "T1", operation: "chat.update")
        let other = try GuardKey(integration: "slack", tenant: "T2", operation: "chat.update")
        let floodgate = try Self.floodgate([:], clock: clock)
        floodgate.record(try await floodgate.acquire(key), .throttled(retryAfter: .seconds(30)))
        let error = await #expect(throws: FloodgateError.self) {
            try await floodgate.acquire(try GuardKey(integration: "slack", tenant: "T1", operation: "users.list"))
        }
        #expect(error?.code == .providerBackoff, "the whole tenant connection backs off, every operation")
        let release = try #require(error?.retryAt)
        #expect(release >= Self.start.advanced(by: .seconds(30)) && release <= Self.start.advanced(by: .seconds(32)))
        #expect(await Self.attempt(floodgate, other), "other tenants are not held back")
        clock.advance(to: release)
        #expect(await Self.attempt(floodgate, key))
    }

    @Test func idleKeysAreEvictedOnceTheirWindowsHavePassed() async throws {
        let clock = ManualClock(start: Self.start)
        let floodgate = try Floodgate(
            configuration: FloodgateConfiguration(
                profiles: ["api": .generic([.rollingWindow(limit: 5, window: .seconds(60))])],
                idleKeyTimeout: .seconds(120)
            ),
            store: .memory,
            clock: clock
        )
        for index in 0..<100 { #expect(await Self.attempt(floodgate, try GuardKey(integration: "api", tenant: "t\(index)"))) }
        #expect(floodgate.keyCount == 100)
        let running = Task { try await floodgate.run() }
        for _ in 0..<8 {
            try await eventually("the eviction loop sleeps on the clock") { clock.sleeperCount > 0 }
            clock.advance(by: .seconds(30))
        }
        try await eventually("every idle key is evicted") { floodgate.keyCount == 0 }
        running.cancel()
        try await running.value
        #expect(floodgate.keyCount == 0)
    }

    @Test func configurationIsReadFromTheEnvironmentAndValidated() throws {
        let environment = EnvironmentVariablesProvider(environmentVariables: [
            "SUSPEND_REDIS": "true", "FLEET_SIZE": "4", "INSTANCE_INDEX": "2", "INSTANCE_ID": "app-2",
        ])
        let configuration = FloodgateConfiguration(config: ConfigReader(provider: environment))
        #expect(configuration.suspendRedis && configuration.fleetSize == 4 && configuration.instanceIndex == 2)
        #expect(configuration.instanceID == "app-2")
        try configuration.validate()

        var bad = configuration
        bad.instanceIndex = 4
        #expect(throws: FloodgateError.self) { try bad.validate() }
        bad = configuration
        bad.shareFraction = 1.5
        let error = #expect(throws: FloodgateError.self) { try bad.validate() }
        #expect(error?.message.contains("shareFraction") == true)
        bad = configuration
        bad.profiles = ["bad name": .generic([])]
        #expect(throws: FloodgateError.self) { try bad.validate() }
        bad = configuration
        bad.profiles = ["api": .generic([.fixedWindow(limit: 0, window: .seconds(1))])]
        #expect(throws: FloodgateError.self) { try Floodgate(configuration: bad, store: .memory) }
    }
}
