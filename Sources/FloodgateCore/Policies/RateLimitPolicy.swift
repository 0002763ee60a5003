/// One limit on calls for a guarded key, enforced across the whole fleet.
public enum RateLimitPolicy: Sendable, Hashable, CustomStringConvertible {
    /// At most `limit` calls per aligned window of `window` (windows start at multiples of `window` since 1970),
    /// as providers with fixed windows count them (Slack: per minute).
    case fixedWindow(limit: Int, window: Duration)
    /// At most `limit` calls in any interval of length `window` (HubSpot's ten-second limit, Salesforce's 24 hours).
    case rollingWindow(limit: Int, window: Duration)
    /// A token bucket (GCRA): `rate` calls per `period` sustained, bursts of up to `burst` calls.
    case tokenBucket(rate: Int, period: Duration, burst: Int)
    /// At most `limit` calls in flight at once; a holder that dies loses its permit after `leaseTimeout`.
    case concurrency(limit: Int, leaseTimeout: Duration)

    /// Checks that counts and durations are positive.
    ///
    /// - Throws: ``FloodgateError`` `.invalidConfiguration` naming the policy and the value.
    public func validate() throws {
        func positive(_ value: Int, _ name: String) throws {
            guard value > 0 else { throw FloodgateError(.invalidConfiguration, "\(self): \(name) must be positive") }
        }
        func positive(_ value: Duration, _ name: String) throws {
            guard value > .zero else {
                throw FloodgateError(.invalidConfiguration, "\(self): \(name) must be positive")
            }
        }
        switch self {
        case .fixedWindow(let limit, let window), .rollingWindow(let limit, let window):
            try positive(limit, "limit")
            try positive(window, "window")
        case .tokenBucket(let rate, let period, let burst):
            try positive(rate, "rate")
            try positive(period, "period")
            try positive(burst, "burst")
        case .concurrency(let limit, let leaseTimeout):
            try positive(limit, "limit")
            try positive(leaseTimeout, "leaseTimeout")
        }
    }

    public var description: String {
        switch self {
        case .fixedWindow(let limit, let window): return "\(limit) per fixed \(window)"
        case .rollingWindow(let limit, let window): return "\(limit) per rolling \(window)"
        case .tokenBucket(let rate, let period, let burst): return "\(rate) per \(period), burst \(burst)"
        case .concurrency(let limit, let leaseTimeout): return "\(limit) concurrent (lease \(leaseTimeout))"
        }
    }
}
