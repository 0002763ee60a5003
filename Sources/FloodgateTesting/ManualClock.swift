import FloodgateCore

import Synchronization

/// A clock that moves only when told to: tests and replays on virtual time use it instead of the wall clock.
///
/// `sleep(until:)` suspends until ``advance(by:)`` or ``advance(to:)`` moves the clock to or past the deadline, or
/// the sleeping task is cancelled.
public final class ManualClock: Clock, Sendable {
    private struct Sleeper {
        let deadline: WallInstant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: WallInstant
        var sleepers: [Int: Sleeper] = [:]
        var nextID = 0
        var sleepsBegun = 0
    }

    private let state: Mutex<State>

    /// A clock starting at `start` (default: 2026-01-01T00:00:00Z).
    public init(start: WallInstant = WallInstant(nanosecondsSince1970: 1_767_225_600_000_000_000)) {
        state = Mutex(State(now: start))
    }

    public var now: WallInstant { state.withLock { $0.now } }

    public var minimumResolution: Duration { .nanoseconds(1) }

    /// How many tasks are sleeping on the clock (tests use it to know a sleeper has arrived).
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// How many sleeps have begun since the clock was made: a timer loop that ``advance(to:)`` woke has done its
    /// work once this has grown by one for it (it sleeps again).
    public var sleepsBegun: Int { state.withLock { $0.sleepsBegun } }

    /// Moves the clock forward and wakes every sleeper whose deadline has come; returns how many it woke.
    @discardableResult
    public func advance(by duration: Duration) -> Int {
        precondition(duration >= .zero, "a manual clock only moves forward")
        return advance(to: now.advanced(by: duration))
    }

    /// Moves the clock forward to `instant` (never backwards) and wakes every sleeper whose deadline has come;
    /// returns how many it woke.
    @discardableResult
    public func advance(to instant: WallInstant) -> Int {
        let woken = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now = max(state.now, instant)
            let due = state.sleepers.filter { $0.value.deadline <= state.now }
            for id in due.keys { state.sleepers[id] = nil }
            return due.values.sorted { $0.deadline < $1.deadline }.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
        return woken.count
    }

    public func sleep(until deadline: WallInstant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { state -> Int in
            defer { state.nextID += 1 }
            state.sleepsBegun += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if deadline <= state.now { return true }
                    if Task.isCancelled { return true }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }
}
