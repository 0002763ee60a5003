import Floodgate
import FloodgateTesting
import FloodgateTestSupport
import Testing

/// `Floodgate.reload(_:)` in local-only mode on a manual clock: new limits apply at once and keep the window's
/// counts; changes that need a restart are refused whole, naming the field.
@Suite("Reloading limits", .timeLimit(.minutes(3)))
struct ReloadTests {
    static func configuration(_ policies: [RateLimitPolicy], fleetSize: Int = 1) -> FloodgateConfiguration {
        FloodgateConfiguration(instanceID: "reload", profiles: ["api": .generic(policies)], fleetSize: fleetSize)
    }

    static func spend(_ floodgate: Floodgate, _ attempts: Int, on key: GuardKey) async -> Int {
        var allowed = 0
        for _ in 0..<attempts where (try? await floodgate.acquire(key)).map({ floodgate.record($0, .success) }) != nil { allowed += 1 }
        return allowed
    }

    @Test(arguments: [
        RateLimitPolicy.fixedWindow(limit: 100, window: .seconds(60)),
        .rollingWindow(limit: 100, window: .seconds(60)),
    ])
    func aLoweredLimitKeepsWhatTheWindowCountedAndTheNextWindowGetsTheNewOne(policy: RateLimitPolicy) async throws {
        let clock = ManualClock(start: LocalOnlyFloodgateTests.start)
        let floodgate = try Floodgate(configuration: Self.configuration([policy]), store: .memory, clock: clock)
        let key = try GuardKey(integration: "api", tenant: "t")
        #expect(await Self.spend(floodgate, 60, on: key) == 60)
        let lowered: RateLimitPolicy
        switch policy {
        case .fixedWindow: lowered = .fixedWindow(limit: 50, window: .seconds(60))
        default: lowered = .rollingWindow(limit: 50, window: .seconds(60))
        }
        try floodgate.reload(Self.configuration([lowered]))
        #expect(await Self.spend(floodgate, 10, on: key) == 0, "60 spent this window, over the new 50")
        clock.advance(by: .seconds(61))
        #expect(await Self.spend(floodgate, 80, on: key) == 50, "a new window, the new limit")
        try floodgate.reload(Self.configuration([policy]))
        #expect(await Self.spend(floodgate, 80, on: key) == 50, "raised: the rest of the window may use the difference")
        #expect(floodgate.configuration.profiles["api"] == .generic([policy]))
    }

    @Test func aLocalShareFollowsTheNewLimit() async throws {
        let clock = ManualClock(start: LocalOnlyFloodgateTests.start)
        let floodgate = try Floodgate(
            configuration: Self.configuration([.fixedWindow(limit: 40, window: .seconds(60))], fleetSize: 4),
            store: .memory,
            clock: clock
        )
        let key = try GuardKey(integration: "api", tenant: "t")
        #expect(await Self.spend(floodgate, 20, on: key) == 10, "a quarter of 40")
        try floodgate.reload(Self.configuration([.fixedWindow(limit: 80, window: .seconds(60))], fleetSize: 4))
        #expect(await Self.spend(floodgate, 20, on: key) == 10, "a quarter of 80, of which 10 are spent")
    }

    @Test func breakerPoliciesAndShadowModeReload() async throws {
        let floodgate = try Floodgate(configuration: Self.configuration([]), store: .memory)
        var new = Self.configuration([])
        new.defaultBreaker.failureRateThreshold = 0.9
        new.shadowIntegrations = ["api"]
        try floodgate.reload(new)
        #expect(floodgate.configuration.defaultBreaker.failureRateThreshold == 0.9)
        #expect(floodgate.configuration.isShadowed("api"))
    }

    @Test func changesThatNeedARestartAreRefusedWholeNamingTheField() async throws {
        let floodgate = try Floodgate(configuration: Self.configuration([.fixedWindow(limit: 10, window: .seconds(60))]), store: .memory)
        let cases: [(FloodgateConfiguration, String)] = [
            (Self.configuration([.fixedWindow(limit: 10, window: .seconds(30))]), "limits.api"),
            (Self.configuration([.rollingWindow(limit: 10, window: .seconds(60))]), "limits.api"),
            (Self.configuration([.fixedWindow(limit: 10, window: .seconds(60)), .concurrency(limit: 2, leaseTimeout: .seconds(60))]), "limits.api"),
            (Self.configuration([.fixedWindow(limit: 20, window: .seconds(60))], fleetSize: 2), "fleetSize"),
            (Self.configuration([.fixedWindow(limit: 0, window: .seconds(60))]), "limits.api"),
        ]
        for (configuration, field) in cases {
            do {
                try floodgate.reload(configuration)
                Issue.record("accepted a change of \(field)")
            } catch let error as FloodgateError {
                #expect(error.code == .invalidConfiguration && error.field == field, "\(error)")
            }
            #expect(floodgate.configuration.profiles["api"] == .generic([.fixedWindow(limit: 10, window: .seconds(60))]), "nothing changed")
        }
    }
}
