import NIOCore
import Synchronization

/// The wait between reconnection attempts: a timer on the event loop that ``cancel()`` ends early, for good, so a
/// shutting-down owner never waits out its back-off.
final class ReconnectPause: Sendable {
    private struct State {
        var cancelled = false
        var sleeper: EventLoopPromise<Void>?
    }

    private let eventLoop: any EventLoop
    private let state = Mutex(State())

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Waits for `duration`, or less if cancelled meanwhile; returns at once once cancelled.
    func sleep(for duration: Duration) async {
        let promise = eventLoop.makePromise(of: Void.self)
        let sleeping = state.withLock { state in
            guard !state.cancelled else { return false }
            state.sleeper = promise
            return true
        }
        guard sleeping else {
            promise.succeed()
            return
        }
        let timer = eventLoop.scheduleTask(in: TimeAmount(duration)) { promise.succeed() }
        try? await promise.futureResult.get()
        timer.cancel()
        state.withLock { state in
            if state.sleeper?.futureResult === promise.futureResult { state.sleeper = nil }
        }
    }

    /// Ends the current wait and every later one.
    func cancel() {
        let sleeper = state.withLock { state in
            state.cancelled = true
            defer { state.sleeper = nil }
            return state.sleeper
        }
        sleeper?.succeed()
    }
}
