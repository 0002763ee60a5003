/// Permission for one call on a key, from ``Floodgate/acquire(_:cost:waitingUpTo:)``. Record its outcome exactly once
/// with ``Floodgate/record(_:_:duration:)``: that releases concurrency permits and feeds the breaker.
public struct FloodgatePermit: Sendable {
    /// The key the call is for.
    public let key: GuardKey
    /// When it was allowed.
    public let acquiredAt: WallInstant
    /// Whether the call is one of its breaker's half-open probes.
    public var isProbe: Bool { probeEpoch != nil }

    /// For a probe: the end of the open period it probes (the fleet counts probes per period).
    package let probeEpoch: Int64?
    /// Concurrency permits held (empty unless the key has a concurrency limit).
    package let concurrency: [ConcurrencyHold]
    /// The integration's breaker, which the outcome feeds.
    package let breaker: GuardEngine.BreakerBox?
    /// In shadow mode, the refusal this call would have met (it holds no capacity, and gives none back).
    public package(set) var shadowRefusal: FloodgateError.Code? = nil
    /// How many calls it counts as (``Floodgate/acquire(_:cost:waitingUpTo:)``).
    public var cost: Int { 1 + units.count }
    /// A weighted call's further units: each took one permit of every limit (and nothing of the breaker).
    package var units: [FloodgatePermit] = []

    package init(
        key: GuardKey, acquiredAt: WallInstant, probeEpoch: Int64?, concurrency: [ConcurrencyHold],
        breaker: GuardEngine.BreakerBox?, shadowRefusal: FloodgateError.Code? = nil, units: [FloodgatePermit] = []
    ) {
        self.key = key
        self.acquiredAt = acquiredAt
        self.probeEpoch = probeEpoch
        self.concurrency = concurrency
        self.breaker = breaker
        self.shadowRefusal = shadowRefusal
        self.units = units
    }
}

/// One concurrency permit held by a call: from the instance's share, or a lease of the fleet's pool in Redis.
package struct ConcurrencyHold: Sendable, Hashable {
    package let policy: PolicyReference
    /// The pool lease's id, or nil when the permit came from the instance's share.
    package let poolLease: String?
}
