import Floodgate
import Foundation
import Testing

@testable import FloodgateSimulation

/// The scenario figures on small hand-built replays whose answers are known.
@Suite("Usage figures", .timeLimit(.minutes(3)))
struct UsageFiguresTests {
    static let second: Int64 = 1_000_000_000

    /// A call of `tenant` on slack (the workload's 50 per fixed minute) at `seconds`.
    static func record(_ tenant: Int, at seconds: Double, _ outcome: SimulatedOutcome, commands: Int = 0) -> UsageFigures.Record {
        let call = SimulatedCall(time: Int64(seconds * 1e9), instance: 0, tenant: tenant, integration: 0, object: 0, failsAtRandom: false)
        return UsageFigures.Record(call: call, outcome: outcome, ownCommands: commands)
    }

    /// A hot key offered 100 calls a minute for three minutes: 25 admitted in the first, 50 in each of the others.
    static func hotKey(firstMinute: Int = 25, commandsPerAdmitted: Int = 0) -> [UsageFigures.Record] {
        (0..<300).map { index in
            let minute = index / 100
            let admitted = index % 100 < (minute == 0 ? firstMinute : 50)
            return record(0, at: Double(index) * 0.6, admitted ? .upstream(.success) : .refused(.rateLimited), commands: admitted ? commandsPerAdmitted : 1)
        }
    }

    static func workload(minutes: Int = 3) -> Workload {
        var workload = Workload()
        workload.minutes = minutes
        return workload
    }

    @Test func usableCapacityAndTimeToFullCapacityOfAHotKey() {
        let figures = UsageFigures(workload: Self.workload(), records: Self.hotKey())
        #expect(figures.hotKeys == 1)
        #expect(figures.usableCapacityFirstWindow == 0.5, "25 of 50 in the first minute")
        #expect(figures.usableCapacitySteady == 1.0, "50 of 50 in each later minute")
        #expect(figures.timeToFullCapacitySeconds == 120, "the second minute is the first at 95%")
        #expect(figures.usableCapacityAfterDeploy == nil && figures.timeToFullCapacityAfterDeploySeconds == nil)
    }

    @Test func aDeployDisturbsTheWindowsAroundItAndIsMeasuredFromItsStart() {
        var workload = Self.workload()
        workload.deployAt = .seconds(90)  // four instances 10 s apart: disturbed from 90 s to 130 s
        var records = Self.hotKey()
        // The minute after the deploy gets only 30.
        records = records.enumerated().map { index, record in
            var record = record
            if index >= 200, index % 100 >= 30 { record.outcome = .refused(.rateLimited) }
            return record
        }
        let figures = UsageFigures(workload: workload, records: records)
        #expect(figures.usableCapacitySteady == nil, "every later window overlaps the deploy or the window after it")
        #expect(figures.usableCapacityAfterDeploy == 0.6, "the first window starting after 90 s: 30 of 50")
        #expect(figures.timeToFullCapacityAfterDeploySeconds == nil, "never full again within the run")
        #expect(figures.timeToFullCapacitySeconds == 120)
    }

    /// Windows in which the provider would not take the key's calls measure the breaker, not the limit: one with a
    /// call refused by a breaker (or a back-off), and, for hubspot, the replayed outage.
    @Test func windowsOfProviderTroubleAreLeftOutOfTheCapacity() {
        // The third minute: 20 admitted, then the breaker refuses the rest.
        let records = Self.hotKey().enumerated().map { index, record in
            var record = record
            if index >= 200, index % 100 >= 20 { record.outcome = .refused(.breakerOpen) }
            return record
        }
        #expect(UsageFigures(workload: Self.workload(), records: records).usableCapacitySteady == 1.0, "the second minute only")

        // A hubspot key (100 per rolling 10 s) offered 20 calls a second; from 60 s, when the outage starts (a
        // third of the 3 minutes), only 10 a window are let through.
        let hubspot = (0..<3_600).map { index in
            let time = Int64(index) * Self.second / 20
            let admitted = index % 200 < (time < 60 * Self.second ? 100 : 10)
            let call = SimulatedCall(time: time, instance: 0, tenant: 0, integration: 1, object: 0, failsAtRandom: false)
            return UsageFigures.Record(call: call, outcome: admitted ? .upstream(.failure) : .refused(.rateLimited), ownCommands: 0)
        }
        let figures = UsageFigures(workload: Self.workload(), records: hubspot)
        #expect(figures.usableCapacitySteady == 1.0, "the windows from 10 s to 60 s, before the outage")
        var noOutage = Self.workload()
        noOutage.outage = false
        #expect(UsageFigures(workload: noOutage, records: hubspot).usableCapacitySteady! < 0.5, "every window counts without the outage")
    }

    @Test func falseRefusalsCountOnlyWarmKeysUnderNinetyPercentOfTheirLimit() {
        // Warm: 10 calls in a minute (20% of 50), two refused while nothing was admitted: both false.
        var records = (0..<10).map { Self.record(1, at: Double($0), $0 < 2 ? .refused(.rateLimited) : .upstream(.success)) }
        // A breaker refusal of a warm key is not a rate-limit refusal.
        records.append(Self.record(1, at: 30, .refused(.breakerOpen)))
        // Neither warm nor hot (60 calls in one minute, 120% of the limit, 0.33× its rate over three minutes): not counted.
        records += (0..<60).map { Self.record(2, at: 60 + Double($0) * 0.5, $0 < 50 ? .upstream(.success) : .refused(.rateLimited)) }
        records += Self.hotKey()
        records.sort { $0.call.time < $1.call.time }
        let figures = UsageFigures(workload: Self.workload(), records: records)
        #expect(figures.warmKeyCalls == 11)
        #expect(figures.falseRefusals == 2)
        #expect(figures.falseRefusalRate == 2.0 / 11.0)
        #expect(figures.hotKeys == 1, "the 60-call key is not hot either")
    }

    @Test func aWarmKeyIsNeverOfferedMoreThanNinetyPercentOfItsLimit() {
        // 45 calls in one minute (90% of 50): warm; its one refusal is false.
        var records = (0..<44).map { Self.record(3, at: Double($0), .upstream(.success)) }
        records.append(Self.record(3, at: 50, .refused(.rateLimited)))
        #expect(UsageFigures(workload: Self.workload(), records: records).falseRefusals == 1)
        // 46: not warm, nothing counted.
        records.append(Self.record(3, at: 55, .refused(.rateLimited)))
        let over = UsageFigures(workload: Self.workload(), records: records)
        #expect(over.warmKeyCalls == 0 && over.falseRefusals == 0 && over.falseRefusalRate == nil)
    }

    @Test func theFewestExpectedAsksOfKnownAllocations() {
        // One instance at one call a window and nothing to hand out: it must ask whenever a call comes.
        #expect(abs(PermitBound.fewestExpectedAsks(rates: [1], limit: 0) - (1 - exp(-1))) < 1e-9)
        // Two at half a call a window and one permit: it goes to one of them, P(c > 1) + P(c > 0).
        let tail0 = 1 - exp(-0.5)
        let tail1 = 1 - exp(-0.5) * 1.5
        #expect(abs(PermitBound.fewestExpectedAsks(rates: [0.5, 0.5], limit: 1) - (tail1 + tail0)) < 1e-9)
        // Unequal rates: the permit goes where it saves more (the busier instance).
        let busy = PermitBound.fewestExpectedAsks(rates: [2, 0.1], limit: 1)
        #expect(abs(busy - ((1 - exp(-2) * 3) + (1 - exp(-0.1)))) < 1e-9)
        // Plenty of permits: nothing to expect; counted in units past 2,000 permits, still nothing.
        #expect(PermitBound.fewestExpectedAsks(rates: [3, 3, 3], limit: 100) == 0)
        #expect(PermitBound.fewestExpectedAsks(rates: [900, 900], limit: 100_000) == 0)
        // Units can only lower it: a tight large limit stays within the exact answer's neighbourhood, never above.
        let coarse = PermitBound.fewestExpectedAsks(rates: [3_000, 3_000], limit: 6_000)
        #expect(coarse >= 0 && coarse <= PermitBound.fewestExpectedAsks(rates: [3_000, 3_000], limit: 5_000))
    }

    @Test func warmKeysInteractionsAndTheirBound() {
        // Two warm keys, one call each every 6 s on instance 0 (10 a minute of slack's 50): the bound is tiny; each call
        // here sent one command itself.
        let records = (0..<60).map { index in Self.record(index % 2, at: Double(index) * 3, .upstream(.success), commands: 1) }
        let figures = UsageFigures(workload: Self.workload(), records: records)
        #expect(figures.warmKeyInteractionsPerCall == 1)
        let bound = figures.warmKeyInteractionsLowerBound ?? .nan
        #expect(bound >= 0 && bound < 1e-6, "10 calls a minute on one instance holding up to 50: \(bound)")
    }

    @Test func overloadedKeysCommandsPerAdmittedCall() {
        // Each admitted call sends 2 commands, each refused one 1: (2 × 125 + 1 × 175) / 125.
        let figures = UsageFigures(workload: Self.workload(), records: Self.hotKey(commandsPerAdmitted: 2))
        #expect(figures.overloadedCommandsPerAdmittedCall == Double(2 * 125 + 175) / 125)
    }

    @Test func aWindowLongerThanTheRunIsMeasuredOverTheRun() {
        var workload = Self.workload(minutes: 10)
        workload.limits = .profiles
        workload.limitScale = 0.001  // Salesforce: 100 per rolling 24 h
        // 300 salesforce calls of one tenant over ten minutes, 100 admitted: hot (3× the limit over the run).
        let records = (0..<300).map { index in
            UsageFigures.Record(
                call: SimulatedCall(time: Int64(index) * 2 * Self.second, instance: 0, tenant: 0, integration: 2, object: 0, failsAtRandom: false),
                outcome: index < 100 ? .upstream(.success) : .refused(.rateLimited),
                ownCommands: 0
            )
        }
        let figures = UsageFigures(workload: workload, records: records)
        #expect(figures.hotKeys == 1)
        #expect(figures.usableCapacityFirstWindow == 1.0, "all 100 of the day's limit within the run")
        #expect(figures.usableCapacitySteady == nil, "no second window in ten minutes")
        #expect(figures.timeToFullCapacitySeconds == 600)
    }

    @Test func overshootOfATokenBucket() {
        let counter = OvershootCounter()
        let burst = (0..<10).map { _ in Int64(0) }
        #expect(counter.bucket(burst, rate: 1, period: Self.second, burst: 5) == 5, "five tokens for ten calls at once")
        let paced = (0..<10).map { Int64($0) * Self.second }
        #expect(counter.bucket(paced, rate: 1, period: Self.second, burst: 5) == 0)
        #expect(counter.overshoot(burst, policy: .concurrency(limit: 1, leaseTimeout: .seconds(1))) == 0)
        #expect(counter.overshoot(burst, policy: .fixedWindow(limit: 4, window: .seconds(1))) == 6)
    }
}

/// The schedule's new options: routing, hot tenants, profiles, and the fleet changes of deploys, crashes, partitions.
@Suite("Scenario schedules", .timeLimit(.minutes(3)))
struct ScenarioScheduleTests {
    static func workload(_ configure: (inout Workload) -> Void = { _ in }) -> Workload {
        var workload = Workload()
        workload.minutes = 10
        configure(&workload)
        return workload
    }

    @Test func theIncidentsCallsDoNotChangeWithRoutingAndTheSameFlagsGiveTheSameCalls() throws {
        let uniform = try CallSchedule(Self.workload())
        #expect(try CallSchedule(Self.workload()).calls == uniform.calls, "deterministic")
        let sticky = try CallSchedule(Self.workload { $0.routing = .sticky })
        #expect(sticky.calls.map { [$0.time, Int64($0.tenant), Int64($0.integration), Int64($0.object)] }
            == uniform.calls.map { [$0.time, Int64($0.tenant), Int64($0.integration), Int64($0.object)] })
        var instanceOf: [Int: Int] = [:]
        for call in sticky.calls { #expect(instanceOf.updateValue(call.instance, forKey: call.tenant).map { $0 == call.instance } ?? true) }
        #expect(Set(instanceOf.values).count == 4, "tenants spread over every instance")
        let skewed = try CallSchedule(Self.workload { $0.routing = .skewed })
        let perInstance = Dictionary(grouping: skewed.calls, by: \.instance).mapValues(\.count)
        #expect(perInstance[0, default: 0] > 2 * perInstance[3, default: 0], "Zipf: the first instance takes the most")
    }

    @Test func hotTenantsAreOfferedTheirFactorTimesTheirLimitInUncachedCalls() throws {
        let base = try CallSchedule(Self.workload())
        let schedule = try CallSchedule(Self.workload {
            $0.hotTenants = 2
            $0.hotFactor = 3
        })
        let hot = schedule.calls.filter { !$0.cacheable }
        #expect(Set(hot.map(\.tenant)) == [0, 1] && hot.allSatisfy { $0.integration == 0 })
        // 3 × 50 a minute for ten minutes, per tenant: 1,500 (Poisson: within 10%).
        for tenant in 0..<2 {
            let count = hot.count { $0.tenant == tenant }
            #expect((1_350...1_650).contains(count), "\(count) hot calls of tenant \(tenant)")
        }
        #expect(schedule.calls.filter(\.cacheable) == base.calls, "the workload's calls are kept")
    }

    @Test func profilesGiveSlackCallsAMethodAndScaleOnlyLongWindows() throws {
        var workload = Self.workload { $0.limits = .profiles }
        workload.limitScale = 0.01
        let schedule = try CallSchedule(workload)
        #expect(schedule.calls.filter { $0.integration == 0 }.allSatisfy { $0.operation != nil })
        #expect(schedule.calls.filter { $0.integration != 0 }.allSatisfy { $0.operation == nil })
        #expect(workload.policies(integration: 2, operation: nil).contains(.rollingWindow(limit: 1_000, window: .seconds(86_400))))
        #expect(workload.policies(integration: 1, operation: nil).contains(.rollingWindow(limit: 100, window: .seconds(10))), "10 s kept")
        #expect(workload.policies(integration: 0, operation: 1) == [.fixedWindow(limit: 20, window: .seconds(60))], "users.list: tier 2")
    }

    @Test func deploysCrashesAndPartitionsAreScheduledPerInstance() {
        let workload = Self.workload {
            $0.deployAt = .seconds(100)
            $0.deployPause = .seconds(5)
            $0.crashAt = .seconds(300)
            $0.crashCount = 2
            $0.partitionAt = .seconds(400)
            $0.partitionFor = .seconds(30)
            $0.partitioned = 1
        }
        let changes = Simulation.FleetChange.schedule(workload)
        let second: Int64 = 1_000_000_000
        #expect(changes.filter { $0.kind == .leave }.map(\.time) == [100, 105, 110, 115].map { $0 * second })
        #expect(changes.filter { $0.kind == .replace }.count == 6, "four deployed, two crashed")
        #expect(changes.filter { $0.kind == .crash }.map(\.slot) == [0, 1])
        #expect(changes.filter { $0.kind == .cut } == [.init(time: 400 * second, slot: 3, kind: .cut)])
        #expect(changes.filter { $0.kind == .restore }.map(\.time) == [430 * second])
        #expect(workload.disruption?.start == 100 * second && workload.disruption?.end == 430 * second)
    }

    @Test func badScenarioOptionsAreNamed() {
        let cases: [(String, (inout Workload) -> Void)] = [
            ("--instances", { $0.instances = 101 }),
            ("--hot-tenants", { $0.hotTenants = 101 }),
            ("--deploy-at", { $0.deployAt = .seconds(601) }),
            ("--crash-count", { $0.crashAt = .seconds(1); $0.crashCount = 5 }),
            ("--partitioned", { $0.partitionAt = .seconds(1); $0.partitioned = 4 }),
            ("--limit-scale", { $0.limitScale = 0 }),
        ]
        for (flag, configure) in cases {
            let error = #expect(throws: FloodgateError.self) { try Self.workload(configure).validate() }
            #expect(error?.message.contains(flag) == true, "\(flag): \(error?.message ?? "")")
        }
    }
}
