/// How a guarded call went, as the caller records it on its permit.
public enum CallOutcome: Sendable, Hashable {
    /// The call succeeded.
    case success
    /// The call failed in a way that counts against the integration's breaker (5xx, timeout, connection error).
    case failure
    /// The provider throttled the call (429, `ratelimited`, `REQUEST_LIMIT_EXCEEDED`): the whole fleet holds the
    /// tenant connection back until `retryAfter` has passed (the configured default when nil).
    case throttled(retryAfter: Duration?)
    /// Neither a success nor a failure for the breaker (a client error such as 400 or 404).
    case ignored
    /// The call never went out: its permits are given back.
    case cancelled
}
