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
        clock.advance(by: .seconds(2))
        try await early.value
        #expect(clock.sleeperCount == 1, "the later sleeper still waits")
        clock.advance(to: start.advanced(by: .seconds(5)))
        try await late.value
        #expect(clock.now == start.advanced(by: .seconds(5)))
        // A deadline already past returns at once.
        try await clock.sleep(until: start)
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
