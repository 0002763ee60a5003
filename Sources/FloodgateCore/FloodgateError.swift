/// An error from Floodgate's guards: bad input or configuration, or a refused call.
public struct FloodgateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: Hashable, Sendable {
            case invalidKey, invalidConfiguration, invalidArgument, rateLimited, breakerOpen, providerBackoff, shutDown
        }
        fileprivate let base: Base

        /// An integration, tenant or operation name that Floodgate cannot use safely as part of a key.
        public static let invalidKey = Code(base: .invalidKey)
        /// A configuration value out of range or inconsistent.
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
        /// A value passed to a call out of its allowed range (a cache TTL above the cache's `maximumTTL`).
        public static let invalidArgument = Code(base: .invalidArgument)
        /// Refused: a rate limit of the key is used up until ``FloodgateError/retryAt``.
        public static let rateLimited = Code(base: .rateLimited)
        /// Refused: the integration's circuit breaker is open until ``FloodgateError/retryAt`` (nil: forced open).
        public static let breakerOpen = Code(base: .breakerOpen)
        /// Refused: the provider asked the fleet to back off until ``FloodgateError/retryAt``.
        public static let providerBackoff = Code(base: .providerBackoff)
        /// Refused: the Floodgate service has shut down.
        public static let shutDown = Code(base: .shutDown)

        public var description: String { String(describing: base) }
    }

    /// What kind of failure this is.
    public let code: Code
    /// What exactly is wrong, naming the offending field or key.
    public let message: String
    /// For a refused call: the earliest moment a retry can be allowed (nil when unknown, e.g. a forced-open breaker).
    public let retryAt: WallInstant?
    /// For bad configuration: the field at fault, as ``FloodgateConfiguration`` names it (`fleetSize`, `keyPrefix`,
    /// `limits.<integration>`, `breakers.<integration>`), so callers map it without reading the message.
    public let field: String?

    public init(_ code: Code, _ message: String, retryAt: WallInstant? = nil, field: String? = nil) {
        self.code = code
        self.message = message
        self.retryAt = retryAt
        self.field = field
    }

    /// The same error, naming `field` (unless it names one already).
    package func naming(_ field: String) -> FloodgateError {
        FloodgateError(code, message, retryAt: retryAt, field: self.field ?? field)
    }

    /// Whether this error refused a call (rate limit, breaker, back-off) rather than reported bad input.
    public var isRefusal: Bool { code == .rateLimited || code == .breakerOpen || code == .providerBackoff }

    public var description: String {
        let until = retryAt.map { " (until \($0))" } ?? ""
        return "FloodgateError.\(code): \(message)\(until)"
    }
}
