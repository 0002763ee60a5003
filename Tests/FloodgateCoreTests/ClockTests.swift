import FloodgateCore
import FloodgateTesting
import FloodgateTestSupport
import Testing

@Suite("Clocks", .timeLimit(.minutes(3)))
struct ClockTests {
    @Test func wallClockIsTheSystemsRealTime() {
        let now = WallClock().now
        #expect(now.secondsSince1970 > 1_700_000_000)
        #expect(now.advanced(by: .seconds(2)).nanosecondsSince1970 - now.nanosecondsSince1970 == 2_000_000_000)
        #expect(now.duration(to: now.advanced(by: .milliseconds(5))) == .milliseconds(5))
    }

    @Test func manualClockWakesSleepersWhenAdvancedPastTheirDeadline() async throws {
        let clock = ManualClock()
        let start = clock.now
        let early = Task { try await clock.sleep(until: start.advanced(by: .seconds(1))) }
        let late = Task { try await clock.sleep(until: start.advanced(by: .seconds(5))) }
        try await eventually("both tasks sleep on the clock") { clock.sleeperCount == 2 }
        #expect(clock.sleepsBegun == 2)
        #expect(clock.advance(by: .seconds(2)) == 1, "it says how many sleepers it woke")
        try await early.value
        #expect(clock.sleeperCount == 1, "the later sleeper still waits")
        #expect(clock.advance(to: start.advanced(by: .seconds(5))) == 1)
        try await late.value
        #expect(clock.now == start.advanced(by: .seconds(5)))
        #expect(clock.advance(by: .seconds(1)) == 0)
        // A deadline already past returns at once, and counts as a sleep begun (a loop that went round once more).
        try await clock.sleep(until: start)
        #expect(clock.sleepsBegun == 3)
    }

    @Test func cancellingASleeperEndsItsSleep() async throws {
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(until: clock.now.advanced(by: .seconds(60))) }
        try await eventually("the task sleeps on the clock") { clock.sleeperCount == 1 }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
    }
}
