/// The answer of a limit to one call: allowed, or refused until a moment (nanoseconds since 1970).
package enum LimitDecision: Sendable, Hashable {
    case allowed
    case refused(retryAt: Int64)
}
