import Synchronization
import Testing

/// A bounded wait in a test that gave up: the test fails with this message instead of hanging until CI's limit.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}

/// Polls `condition` until it holds, failing the test (an issue naming `what`, then ``WaitTimedOut``) after `timeout`
/// of real time. For conditions observed from outside (a server restarted, a message crossed Redis, a task reached
/// a sleep), never as a stand-in for a clock that can be injected.
public func eventually(
    _ what: String,
    within timeout: Duration = .seconds(10),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while try await !condition() {
        guard clock.now < deadline else {
            let message = "timed out after \(timeout) waiting until \(what)"
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
            throw WaitTimedOut(description: message)
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}

/// Runs `body`, failing the test (an issue naming `what`, then ``WaitTimedOut``) if it has not finished after
/// `timeout`. On time-out `body` is cancelled and not waited for, so even a wait that ignores cancellation cannot
/// hang the suite.
public func withDeadline<Value: Sendable>(
    _ timeout: Duration = .seconds(10),
    _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    let race = DeadlineRace<Value>()
    let work = Task {
        do { race.finish(with: .success(try await body())) } catch { race.finish(with: .failure(error)) }
    }
    let timer = Task {
        try await Task.sleep(for: timeout)
        race.finish(with: .failure(WaitTimedOut(description: "timed out after \(timeout) waiting until \(what)")))
    }
    let result = await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in race.wait(continuation) }
    } onCancel: {
        race.finish(with: .failure(CancellationError()))
    }
    work.cancel()
    timer.cancel()
    if case .failure(let error as WaitTimedOut) = result {
        Issue.record(Comment(rawValue: error.description), sourceLocation: sourceLocation)
    }
    return try result.get()
}

/// The next element of an async sequence's iterator (nil when the sequence ended), failing the test after
/// `timeout`. The iterator is lent to the waiting task and handed back; after a time-out it must not be used again.
public func next<Iterator: AsyncIteratorProtocol>(
    _ iterator: inout Iterator,
    within timeout: Duration = .seconds(10),
    _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws -> Iterator.Element? where Iterator: SendableMetatype, Iterator.Element: Sendable {
    // Only one task touches the iterator at a time: the waiting task while we await it, then this one again.
    nonisolated(unsafe) var lent = iterator
    let element = try await withDeadline(timeout, what, sourceLocation: sourceLocation) {
        try await lent.next()
    }
    iterator = lent
    return element
}

/// The first of a work task and a timer to finish; resumes the waiter exactly once.
private final class DeadlineRace<Value: Sendable>: Sendable {
    private struct State {
        var result: Result<Value, any Error>?
        var waiter: CheckedContinuation<Result<Value, any Error>, Never>?
    }
    private let state = Mutex(State())

    func finish(with result: Result<Value, any Error>) {
        let waiter: CheckedContinuation<Result<Value, any Error>, Never>? = state.withLock { state in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: result)
    }

    func wait(_ continuation: CheckedContinuation<Result<Value, any Error>, Never>) {
        let ready: Result<Value, any Error>? = state.withLock { state in
            if let result = state.result { return result }
            state.waiter = continuation
            return nil
        }
        if let ready { continuation.resume(returning: ready) }
    }
}
