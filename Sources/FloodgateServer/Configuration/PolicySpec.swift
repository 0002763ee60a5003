import Floodgate

/// Rate-limit policies written as text, for configuration files and environment variables:
/// `fixed:50/60s`, `rolling:100/10s`, `bucket:10/1s:20` (rate per period, burst), `concurrency:25` or
/// `concurrency:25/300s` (lease timeout). Durations take `ms`, `s`, `m`, `h` or `d`.
public enum PolicySpec {
    /// Parses one policy; the error says what is wrong with `text`.
    public static func parse(_ text: String) throws(SidecarConfigurationError) -> RateLimitPolicy {
        func fail(_ problem: String) -> SidecarConfigurationError {
            SidecarConfigurationError(key: nil, problem: "policy \"\(text)\": \(problem)")
        }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw fail("expected kind:value, e.g. fixed:50/60s") }
        let kind = parts[0]
        let value = parts[1]
        let policy: RateLimitPolicy
        switch kind {
        case "fixed", "rolling":
            guard let (limit, window) = countPerDuration(value) else { throw fail("expected LIMIT/DURATION, e.g. 50/60s") }
            policy = kind == "fixed" ? .fixedWindow(limit: limit, window: window) : .rollingWindow(limit: limit, window: window)
        case "bucket":
            let pieces = value.split(separator: ":").map(String.init)
            guard pieces.count == 2, let (rate, period) = countPerDuration(pieces[0]), let burst = Int(pieces[1]) else {
                throw fail("expected RATE/DURATION:BURST, e.g. 10/1s:20")
            }
            policy = .tokenBucket(rate: rate, period: period, burst: burst)
        case "concurrency":
            if let (limit, timeout) = countPerDuration(value) {
                policy = .concurrency(limit: limit, leaseTimeout: timeout)
            } else if let limit = Int(value) {
                policy = .concurrency(limit: limit, leaseTimeout: .seconds(300))
            } else {
                throw fail("expected LIMIT or LIMIT/LEASE_TIMEOUT, e.g. 25 or 25/300s")
            }
        default:
            throw fail("unknown kind \(kind): use fixed, rolling, bucket or concurrency")
        }
        do {
            try policy.validate()
        } catch let error as FloodgateError {
            throw fail(error.message)
        } catch {
            throw fail("\(error)")
        }
        return policy
    }

    /// `N/DURATION`.
    static func countPerDuration(_ text: String) -> (Int, Duration)? {
        let pieces = text.split(separator: "/").map(String.init)
        guard pieces.count == 2, let count = Int(pieces[0]), let duration = duration(pieces[1]) else { return nil }
        return (count, duration)
    }

    /// `250ms`, `10s`, `5m`, `1h`, `1d`.
    public static func duration(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, milliseconds) in units where text.hasSuffix(suffix) {
            guard let count = Int64(text.dropLast(suffix.count)), count > 0, count <= Int64.max / milliseconds / 1_000_000 else {
                return nil
            }
            return .milliseconds(count * milliseconds)
        }
        return nil
    }
}
