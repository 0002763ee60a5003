/// A moment as nanoseconds since 1970-01-01 UTC: the time base of every window, lease and retry-after in Floodgate.
///
/// Wall time, not monotonic time, because windows must line up with the provider's (Slack counts per calendar
/// minute) and with other instances'. Jumps of the system clock are bounded by the configured skew tolerance.
public struct WallInstant: InstantProtocol, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanosecondsSince1970: Int64

    public init(nanosecondsSince1970: Int64) {
        self.nanosecondsSince1970 = nanosecondsSince1970
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanosecondsSince1970 < rhs.nanosecondsSince1970 }

    public func advanced(by duration: Duration) -> Self {
        Self(nanosecondsSince1970: nanosecondsSince1970 + duration.nanoseconds)
    }

    public func duration(to other: Self) -> Duration {
        .nanoseconds(other.nanosecondsSince1970 - nanosecondsSince1970)
    }

    /// Whole seconds since 1970, as HTTP dates count them.
    public var secondsSince1970: Int64 { nanosecondsSince1970.floorDivided(by: 1_000_000_000) }

    public var description: String { "\(nanosecondsSince1970) ns since 1970" }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating far beyond any window Floodgate uses).
    package var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled + attoseconds / 1_000_000_000
    }
}
