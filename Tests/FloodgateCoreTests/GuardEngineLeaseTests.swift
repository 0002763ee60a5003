@testable import FloodgateCore
import Testing

/// What the engine asks the ledger for, as pure state: the request a decision beyond the allowance leads to.
struct GuardEngineLeaseTests {
    static let second: Int64 = 1_000_000_000

    /// An engine of instance `a` in a fleet of two, with one rolling `limit`-per-minute limit on `api`, that read its
    /// view at `takenAt`; both members joined `joinedAgo` before.
    static func engine(viewTakenAt takenAt: Int64, joinedAgo: Int64 = 1_000 * second, limit: Int = 10, seed: UInt64 = 1) throws -> GuardEngine {
        let configuration = FloodgateConfiguration(
            instanceID: "a",
            profiles: ["api": .generic([.rollingWindow(limit: limit, window: .seconds(60))])],
            fleetSize: 2,
            randomSeed: seed
        )
        var engine = GuardEngine(
            settings: GuardEngine.Settings(
                configuration: configuration, localOnly: false, skew: 250_000_000, heartbeat: 60 * second,
                idleTimeout: 600 * second, jitter: 0
            )
        )
        let joined = takenAt - joinedAgo
        engine.install(
            view: MembershipView(
                members: [
                    .init(id: "a", joinedAt: joined, expiresAt: takenAt + 300 * second),
                    .init(id: "b", joinedAt: joined, expiresAt: takenAt + 300 * second),
                ],
                takenAt: takenAt,
                selfID: "a"
            )
        )
        return engine
    }

    /// Decides calls at `now` until the allowance is spent; returns the policy the engine then needs a lease for.
    static func spendAllowance(_ engine: inout GuardEngine, key: GuardKey, at now: Int64) -> PolicyReference? {
        for _ in 0..<20 {
            switch engine.decide(key, at: now, preHeld: [:]) {
            case .allowed: continue
            case .needsLease(let policy): return policy
            case .refused, .needsConcurrencyLease: return nil
            }
        }
        return nil
    }

    /// An ask short by a few calls in a large fleet gets about twice the cedes it needs, not one from every member
    /// that could cede: 200 instances (seeds) that each spent nothing of an allowance of 7 hear an ask short by 5
    /// calls with 40 candidates, and about one in twenty answers.
    @Test func aCedeAskIsAnsweredByAboutTwiceTheMembersItNeeds() throws {
        let key = try GuardKey(integration: "api", tenant: "t")
        let policy = PolicyReference(scope: key, index: 0)
        var answers = 0
        for seed in 1...200 {
            var engine = try Self.engine(viewTakenAt: 1_000 * Self.second, limit: 20, seed: UInt64(seed))
            if engine.answerToCede(policy, needed: 5, candidates: 40, at: 1_010 * Self.second) == .cede { answers += 1 }
        }
        #expect((4...20).contains(answers), "one cede of 7 covers 5 calls; twice that of 40 is a chance of 5%: \(answers) of 200")
        var everyone = try Self.engine(viewTakenAt: 1_000 * Self.second, limit: 20)
        #expect(everyone.answerToCede(policy, needed: 5, candidates: 1, at: 1_010 * Self.second) == .cede, "the only one")
        #expect(everyone.answerToCede(policy, needed: .max, candidates: 1, at: 1_010 * Self.second) == .cede, "an ask without counts")
    }

    @Test func aLeaseAskedWithAFreshViewLastsAWindow() throws {
        var engine = try Self.engine(viewTakenAt: 1_000 * Self.second)
        let key = try GuardKey(integration: "api", tenant: "t")
        let now = 1_010 * Self.second
        let policy = try #require(Self.spendAllowance(&engine, key: key, at: now))
        #expect(policy == PolicyReference(scope: key, index: 0))
        let found = engine.leaseRequest(for: policy, holder: "a", at: now, cede: false)
        let request = try #require(found).request
        #expect(request.until == now + 60 * Self.second)
        #expect(engine.scopes[key]?.guards[0].leaseInFlight == true, "the engine marks the request in flight")
    }

    /// A member that joined just after the view was read is past its joining wait a heartbeat, the skew and the
    /// window later: a lease asked on an older view ends by then, so the ledger never misses an allowance.
    @Test func aLeaseNeverOutlastsTheMomentAMemberUnknownToTheViewCouldSpendItsAllowance() throws {
        let takenAt = 1_000 * Self.second
        var engine = try Self.engine(viewTakenAt: takenAt)
        let key = try GuardKey(integration: "api", tenant: "t")
        let now = takenAt + 90 * Self.second  // the heartbeat is late: the view is 90 s old, still fresh
        let policy = try #require(Self.spendAllowance(&engine, key: key, at: now))
        let found = engine.leaseRequest(for: policy, holder: "a", at: now, cede: false)
        let request = try #require(found).request
        #expect(request.until == takenAt + 120 * Self.second, "a window from now would be \(now + 60 * Self.second)")
    }

    /// Joining (a heartbeat, the skew and the window before its allowance counts), a member's small ask lasts until
    /// its allowance takes over: one request per sparse key, not one a window.
    @Test func whileJoiningASmallAskLastsUntilTheAllowanceTakesOverAndALargeOneAWindow() throws {
        let takenAt = 1_000 * Self.second
        let key = try GuardKey(integration: "api", tenant: "t")
        let eligibleAt = takenAt + 60 * Self.second + 250_000_000 + 60 * Self.second
        // 1,000 a minute: its first ask (4 calls) is well within its slice of 500.
        var joining = try Self.engine(viewTakenAt: takenAt, joinedAgo: 0, limit: 1_000)
        let policy = try #require(Self.spendAllowance(&joining, key: key, at: takenAt + Self.second))
        let found = joining.leaseRequest(for: policy, holder: "a", at: takenAt + Self.second, cede: false)
        let small = try #require(found).request
        #expect(small.want == 4)
        #expect(small.until == eligibleAt - 500_000_000 - 1_000_000, "until its allowance counts, less twice the skew")
        // 6 a minute, offered 3 calls: past half its slice of 3, it asks for twice its demand and two, all 6, more than
        // its slice, so the lease keeps to a window.
        var tight = try Self.engine(viewTakenAt: takenAt, joinedAgo: 0, limit: 6)
        for _ in 0..<2 { _ = Self.spendAllowance(&tight, key: key, at: takenAt + Self.second) }
        let tightPolicy = try #require(Self.spendAllowance(&tight, key: key, at: takenAt + Self.second))
        let tightFound = tight.leaseRequest(for: tightPolicy, holder: "a", at: takenAt + Self.second, cede: false)
        let tightRequest = try #require(tightFound).request
        #expect(tightRequest.want == 6)
        #expect(tightRequest.until == takenAt + 61 * Self.second)
    }
}
