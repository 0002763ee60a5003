import Synchronization

/// The kill switch: whether Floodgate may send Redis commands now. One switch is shared by the guards, the response
/// cache and the command budget; turned off, none of them sends a command (the guards decide on the state they hold
/// in memory, as in local-only mode; the cache serves its near tier), and turned on again they resume — the guards
/// rejoin the fleet and read its state. `suspendRedis` in the configuration is its state at start.
public final class RedisSwitch: Sendable {
    private let on: Atomic<Bool>

    public init(on: Bool = true) {
        self.on = Atomic(on)
    }

    /// Whether Redis may be used.
    public var isOn: Bool { on.load(ordering: .acquiring) }

    /// Returns once Redis may be used (at once when it may); checks every 100 ms.
    /// - Throws: `CancellationError` when the task is cancelled first.
    public func waitUntilOn() async throws {
        while !isOn { try await Task.sleep(for: .milliseconds(100)) }
    }

    /// Turns Redis use on or off; returns the previous state.
    @discardableResult
    public func set(on value: Bool) -> Bool {
        on.exchange(value, ordering: .acquiringAndReleasing)
    }
}
