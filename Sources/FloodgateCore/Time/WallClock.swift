#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system's real-time clock as a `Clock` of ``WallInstant``s.
public struct WallClock: Clock, Sendable {
    public init() {}

    public var now: WallInstant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return WallInstant(nanosecondsSince1970: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }

    public var minimumResolution: Duration { .nanoseconds(1) }

    public func sleep(until deadline: WallInstant, tolerance: Duration? = nil) async throws {
        let remaining = now.duration(to: deadline)
        if remaining > .zero { try await Task.sleep(for: remaining, tolerance: tolerance) }
    }
}
