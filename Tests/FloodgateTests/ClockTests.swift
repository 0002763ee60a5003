import Floodgate
import Testing

@Suite("Clocks")
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
        while clock.sleeperCount < 2 { await Task.yield() }
        clock.advance(by: .seconds(2))
        try await early.value
        #expect(clock.sleeperCount == 1, "the later sleeper still waits")
        clock.advance(to: start.advanced(by: .seconds(5)))
        try await late.value
        #expect(clock.now == start.advanced(by: .seconds(5)))
        // A deadline already past returns at once.
        try await clock.sleep(until: start)
    }

    @Test func cancellingASleeperEndsItsSleep() async {
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(until: clock.now.advanced(by: .seconds(60))) }
        while clock.sleeperCount < 1 { await Task.yield() }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
    }
}
