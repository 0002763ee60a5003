/// The part of an application a Redis command is sent on behalf of, used to count commands by component.
///
/// Floodgate's own components have static members; any other label works too.
public struct RedisComponent: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let name: String

    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }

    public var description: String { name }

    /// Commands the client sends for itself: `HELLO`, `AUTH`, `SELECT`, `CLIENT TRACKING`, re-subscriptions.
    public static let connection = RedisComponent("connection")
    /// Commands sent without a component label.
    public static let unlabelled = RedisComponent("unlabelled")
    public static let rateLimit = RedisComponent("rateLimit")
    public static let breaker = RedisComponent("breaker")
    public static let backoff = RedisComponent("backoff")
    public static let membership = RedisComponent("membership")
    public static let budget = RedisComponent("budget")
    public static let cache = RedisComponent("cache")
}
