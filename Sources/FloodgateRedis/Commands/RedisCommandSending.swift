import FloodgateRESP

/// Something that sends Redis commands: a ``RedisClient``, a dedicated ``RedisConnection``, or a labelled view of
/// either. The typed commands (`get`, `set`, `hincrby`, ...) are extensions of this protocol.
public protocol RedisCommandSending: Sendable {
    /// The component commands are counted under when no other is given.
    var component: RedisComponent { get }

    /// Sends one command and returns its reply; error replies throw ``RedisClientError`` with code `.server`.
    func send(_ command: RedisCommand, component: RedisComponent) async throws -> RESPValue
}

extension RedisCommandSending {
    /// Sends one command, counted under ``component``.
    @inlinable
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try await send(command, component: component)
    }

    /// Sends any command by name, for what the typed API does not cover.
    public func send(command: String, arguments: [String] = []) async throws -> RESPValue {
        try await send(RedisCommand(command, arguments: arguments), component: component)
    }

    /// The same sender, counting its commands under `component`.
    public func labelled(_ component: RedisComponent) -> LabelledRedisSender<Self> {
        LabelledRedisSender(base: self, component: component)
    }
}

/// A sender whose commands are counted under a fixed component. Make one with `labelled(_:)`.
public struct LabelledRedisSender<Base: RedisCommandSending>: RedisCommandSending {
    public let base: Base
    public let component: RedisComponent

    public func send(_ command: RedisCommand, component: RedisComponent) async throws -> RESPValue {
        try await base.send(command, component: component)
    }
}

extension RedisConnection: RedisCommandSending {
    /// Commands on a bare connection are counted as `unlabelled` unless labelled.
    public var component: RedisComponent { .unlabelled }

    public func send(_ command: RedisCommand, component: RedisComponent) async throws -> RESPValue {
        try await send(command, component: component, timeout: nil)
    }
}
