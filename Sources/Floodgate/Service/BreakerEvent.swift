import FloodgateRedis
import Synchronization

/// A change of an integration's breaker on this instance: opened (by local evidence, the fleet's evidence or another
/// instance's event), closed, forced or released.
public struct BreakerEvent: Sendable, Hashable {
    public var integration: String
    /// The state the breaker moved to.
    public var state: BreakerState
    /// When this instance saw the change.
    public var at: WallInstant

    public init(integration: String, state: BreakerState, at: WallInstant) {
        self.integration = integration
        self.state = state
        self.at = at
    }
}

/// The subscribers of ``Floodgate/breakerEvents()``.
final class BreakerEventHub: Sendable {
    private let subscribers = Mutex(AsyncListeners<BreakerEvent, Void>())

    func subscribe() -> AsyncStream<BreakerEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: BreakerEvent.self, bufferingPolicy: .bufferingNewest(1_000))
        let id = subscribers.withLock { $0.add(continuation) }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.remove(id) }
        }
        return stream
    }

    func emit(_ event: BreakerEvent) {
        let targets = subscribers.withLock { $0.targets() }
        for target in targets { target.yield(event) }
    }

    func finish() {
        let targets = subscribers.withLock { $0.removeAll() }
        for target in targets { target.finish() }
    }
}

extension BreakerStateMachine.State {
    /// The public view of a state.
    var publicState: BreakerState {
        switch self {
        case .closed: return .closed
        case .open(let until): return .open(until: WallInstant(nanosecondsSince1970: until))
        case .halfOpen: return .halfOpen
        case .forcedOpen: return .forcedOpen
        case .forcedClosed: return .forcedClosed
        }
    }
}
