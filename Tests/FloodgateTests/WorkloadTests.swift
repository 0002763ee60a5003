import Floodgate
import FloodgateSimulation
import Testing

/// The replay's call schedule follows WORKLOAD.md and is the same for the same seed.
@Suite("Incident workload", .timeLimit(.minutes(3)))
struct WorkloadTests {
    static let hour = try! CallSchedule(Workload())

    @Test func anHourHasAbout23400CallsAtTheDocumentsRateAndShape() {
        let calls = Self.hour.calls
        #expect((22_800...24_000).contains(calls.count), "6.5 calls/s for an hour: \(calls.count)")
        let top = calls.filter { $0.tenant == 0 }.count
        let share = Double(top) / Double(calls.count)
        #expect((0.20...0.26).contains(share), "the top tenant makes about 23% of calls: \(share)")
        let slack = Double(calls.filter { $0.integration == 0 }.count) / Double(calls.count)
        let hubspot = Double(calls.filter { $0.integration == 1 }.count) / Double(calls.count)
        #expect(abs(slack - 0.5) < 0.02 && abs(hubspot - 0.3) < 0.02)
        let perInstance = (0..<4).map { instance in calls.filter { $0.instance == instance }.count }
        #expect(perInstance.allSatisfy { abs(Double($0) / Double(calls.count) - 0.25) < 0.02 })
        let failing = Double(calls.filter(\.failsAtRandom).count) / Double(calls.count)
        #expect(abs(failing - 0.02) < 0.005)
        #expect(calls.map(\.time) == calls.map(\.time).sorted())
    }

    @Test func theSameSeedGivesTheSameCalls() throws {
        var workload = Workload()
        workload.minutes = 5
        #expect(try CallSchedule(workload).calls == CallSchedule(workload).calls)
        var other = workload
        other.seed = 2
        #expect(try CallSchedule(other).calls != CallSchedule(workload).calls)
    }

    @Test func faultsFollowTheRun() {
        let schedule = Self.hour
        let minute: Int64 = 60_000_000_000
        let outage = schedule.calls.filter { $0.integration == 1 && $0.time >= 20 * minute && $0.time < 25 * minute }
        #expect(!outage.isEmpty && outage.allSatisfy { schedule.answer(to: $0, throttleSent: false) == .failure })
        let target = schedule.calls.first { $0.integration == 0 && $0.tenant == schedule.busiestSlackTenant && $0.time >= 40 * minute }!
        #expect(schedule.answer(to: target, throttleSent: false) == .throttled(retryAfter: .seconds(30)))
        #expect(schedule.answer(to: target, throttleSent: true) != .throttled(retryAfter: .seconds(30)))
    }

    @Test func badParametersNameTheFlag() {
        var workload = Workload()
        workload.mix = [0.5, 0.5]
        let error = #expect(throws: FloodgateError.self) { try CallSchedule(workload) }
        #expect(error?.message.contains("--mix") == true)
        workload = Workload()
        workload.rate = 0
        #expect(throws: FloodgateError.self) { try CallSchedule(workload) }
    }

    @Test func overshootCountsCallsBeyondTheLimit() {
        let counter = OvershootCounter()
        let second: Int64 = 1_000_000_000
        #expect(counter.fixed([0, 1, 2, 60 * second, 61 * second], limit: 2, window: 60 * second) == 1)
        // Rolling 2 per 10 s: calls at 0, 5, 9 → the third overshoots; 15.5 is fine again (0 and 5 have left).
        #expect(counter.rolling([0, 5 * second, 9 * second, 15 * second + second / 2], limit: 2, window: 10 * second) == 1)
        #expect(counter.rolling([0, 5 * second, 9 * second, 10 * second + second / 2], limit: 2, window: 10 * second) == 2)
        #expect(counter.rolling((0..<10).map { Int64($0) * 5 * second }, limit: 2, window: 10 * second) == 0)
    }
}
