/// The clock a ``Floodgate`` decides and sleeps on, erased from any `Clock` of ``WallInstant``s (the wall clock in
/// production, a ``ManualClock`` in tests and replays).
package struct FloodgateClock: Sendable {
    private let read: @Sendable () -> WallInstant
    private let sleeper: @Sendable (WallInstant) async throws -> Void

    package init<C: Clock>(_ clock: C) where C.Instant == WallInstant, C: Sendable {
        read = { clock.now }
        sleeper = { try await clock.sleep(until: $0, tolerance: nil) }
    }

    package func now() -> WallInstant { read() }

    package func sleep(until deadline: WallInstant) async throws { try await sleeper(deadline) }
}
