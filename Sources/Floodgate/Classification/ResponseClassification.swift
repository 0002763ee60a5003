/// What a third-party API's response says about the call and about the provider's limits.
public struct ResponseClassification: Sendable, Hashable {
    /// How the call went, as a guard records it.
    public enum Outcome: Sendable, Hashable {
        /// The call succeeded.
        case success
        /// The call failed in a way that counts against the breaker (5xx, timeouts are recorded by the caller).
        case failure
        /// The provider refused the call for rate or quota reasons: back off, do not count it as a failure.
        case throttled
        /// A client error (4xx other than throttling): neither a success for the breaker nor a provider failure.
        case clientError
    }

    public var outcome: Outcome
    /// How long the provider asked callers to wait (`Retry-After`, or what the provider's headers imply).
    public var retryAfter: Duration?
    /// Calls left in the provider's current window, when it says.
    public var remaining: Int?
    /// The size of that window's allowance, when it says.
    public var limit: Int?
    /// The provider's name for the limit that applies or was hit (HubSpot's `policyName`, e.g. `DAILY`).
    public var policyName: String?

    public init(
        outcome: Outcome,
        retryAfter: Duration? = nil,
        remaining: Int? = nil,
        limit: Int? = nil,
        policyName: String? = nil
    ) {
        self.outcome = outcome
        self.retryAfter = retryAfter
        self.remaining = remaining
        self.limit = limit
        self.policyName = policyName
    }
}
