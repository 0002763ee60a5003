import FloodgateCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

/// A lower bound, from the replayed calls alone, on the Redis interactions that any exact design spends on the rate
/// limits of keys well under them (warm keys, ``UsageFigures``), to set a design's own figure against.
///
/// The argument: in any interval of a policy's window length, the fleet can admit at most the limit L, so at the start
/// of each aligned window the permits that the instances can spend in it without asking Redis add up to at most L
/// (`a_i`, however the design handed them out: allowances, leases, grants). An instance offered more calls in the
/// window than it holds (`c_i > a_i`) must ask Redis at least once, or refuse a call of a key under its limit. The
/// design chooses `a` before the window's calls arrive; with calls reaching each instance at random (Poisson, at the
/// rate `λ_i` the replay shows for that key and instance), the fewest asks it can expect in a window is
/// `min over a (Σ a_i ≤ L) of Σ P(c_i > a_i)`, even knowing every rate in advance. Summed over the windows of the
/// run and the keys (for a key with several policies, the largest), over the calls.
///
/// What it leaves out, so that it stays a bound: the commands of one ask (a pay-per-command Redis bills a script's
/// inner commands too), membership, the breakers, and any interaction a design spends to move permits between
/// windows. Token buckets and concurrency limits are not counted. Overloaded keys are not either: once a key's
/// permits are all out, an instance may refuse what it does not hold without asking.
struct PermitBound {
    /// Expected interactions over the run for `calls` (each offered to the limiter: allowed or refused by a limit).
    static func interactions(
        offered calls: [(key: SimulatedKey, instance: Int, time: Int64)],
        workload: Workload
    ) -> Double {
        let run = workload.duration.nanoseconds
        var perKey: [SimulatedKey: [Int: Int]] = [:]
        for call in calls { perKey[call.key, default: [:]][call.instance, default: 0] += 1 }
        var total = 0.0
        // In key order, so that the sum comes out the same to the last bit on every run.
        for (key, perInstance) in perKey.sorted(by: { $0.key < $1.key }) {
            var most = 0.0
            for policy in workload.policies(integration: key.integration, operation: key.operation) {
                let limit: Int
                let window: Int64
                switch policy {
                case .fixedWindow(let l, let w), .rollingWindow(let l, let w): (limit, window) = (l, w.nanoseconds)
                case .tokenBucket, .concurrency: continue
                }
                // Aligned windows in the run (a window longer than the run is the run).
                let windows = window >= run ? 1.0 : Double(run) / Double(window)
                let rates = perInstance.sorted { $0.key < $1.key }.map { Double($0.value) / windows }
                most = max(most, windows * fewestExpectedAsks(rates: rates, limit: limit))
            }
            total += most
        }
        return total
    }

    /// `min over a (Σ a_i ≤ limit) of Σ P(Poisson(rates[i]) > a_i)`, by dynamic programming over the instances.
    /// Past 2,000 permits it counts them in units of `g` (a limit of 100,000 a day is 50 of 2,000): giving each
    /// instance whole units and `n` units more than the limit holds, which can only lower the minimum, so the result
    /// stays a bound.
    static func fewestExpectedAsks(rates: [Double], limit: Int) -> Double {
        let unit = max(1, limit / 2_000)
        let budget = unit == 1 ? limit : limit / unit + rates.count
        // Each instance's tail P(c > a·unit) for a = 0, 1, ... until it is negligible (at most `budget` units).
        let tails = rates.map { rate -> [Double] in
            var tails: [Double] = []
            var count = 0
            var cumulative = 0.0
            var logProbability = -rate
            while tails.count <= budget {
                while count <= tails.count * unit {
                    if count > 0 { logProbability += log(rate) - log(Double(count)) }
                    cumulative += exp(logProbability)
                    count += 1
                }
                tails.append(max(0, 1 - cumulative))
                if tails.last! < 1e-12 { break }
            }
            return tails
        }
        // Enough permits to make every tail negligible: no ask to expect.
        if tails.allSatisfy({ $0.last! < 1e-12 }), tails.reduce(0, { $0 + $1.count - 1 }) <= budget { return 0 }
        // best[b]: the fewest expected asks of the instances so far with b units among them.
        var best = [Double](repeating: 0, count: budget + 1)
        for tail in tails {
            var next = [Double](repeating: .infinity, count: budget + 1)
            for available in 0...budget {
                for (given, probability) in tail.enumerated() where given <= available {
                    next[available] = min(next[available], best[available - given] + probability)
                }
            }
            best = next
        }
        return best[budget]
    }
}
