import Floodgate

/// What a design's calls came to, counted.
public struct CallOutcomeCounts: Sendable, Codable, Hashable {
    public var servedFromCache = 0
    public var refusedByRateLimit = 0
    public var refusedByBreaker = 0
    public var refusedByBackoff = 0
    /// Refused for another reason (a Floodgate error that is not a guard's verdict: there should be none).
    public var refusedOtherwise = 0
    public var upstreamSuccesses = 0
    public var upstreamFailures = 0
    public var upstreamThrottled = 0
    /// Failed because the instance could not reach Redis (partitions only).
    public var failedOnRedis = 0
    /// Not served: no instance was up (every one crashed or left, none replaced yet).
    public var unserved = 0

    /// Calls that went out to the upstream API.
    public var upstream: Int { upstreamSuccesses + upstreamFailures + upstreamThrottled }

    init(_ outcomes: some Sequence<SimulatedOutcome>) {
        for outcome in outcomes {
            switch outcome {
            case .servedFromCache: servedFromCache += 1
            case .refused(.rateLimited): refusedByRateLimit += 1
            case .refused(.breakerOpen): refusedByBreaker += 1
            case .refused(.providerBackoff): refusedByBackoff += 1
            case .refused: refusedOtherwise += 1
            case .upstream(.success): upstreamSuccesses += 1
            case .upstream(.failure): upstreamFailures += 1
            case .upstream(.throttled): upstreamThrottled += 1
            case .failed: failedOnRedis += 1
            case .unserved: unserved += 1
            }
        }
    }
}
