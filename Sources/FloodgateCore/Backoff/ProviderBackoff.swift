/// A provider's "come back later" for one key, as every instance holds it: refused until a time, then released to
/// each instance at its own random moment within a jitter window, so the fleet does not return in one stampede.
package struct ProviderBackoff: Sendable, Hashable {
    /// When the provider said calls may resume (nanoseconds since 1970); nil when not backing off.
    package private(set) var until: Int64?
    /// This instance's extra wait after `until`, drawn once per back-off.
    package private(set) var jitter: Int64 = 0

    /// Records a throttle that lasts until `until`, keeping the later of two overlapping back-offs. Returns whether
    /// the back-off got longer (then it is news to publish to the fleet).
    package mutating func throttle(until newUntil: Int64, jitterWindow: Int64, using generator: inout some RandomNumberGenerator) -> Bool {
        if let until, until >= newUntil { return false }
        until = newUntil
        jitter = jitterWindow > 0 ? Int64.random(in: 0...jitterWindow, using: &generator) : 0
        return true
    }

    /// Whether a call may go out at `now`; if not, until when this instance holds back.
    package mutating func admit(at now: Int64) -> LimitDecision {
        guard let until else { return .allowed }
        let release = until + jitter
        if now >= release {
            self.until = nil
            jitter = 0
            return .allowed
        }
        return .refused(retryAt: release)
    }
}
