import Floodgate

/// What users feel of a design's limits: how much of a saturated key's limit it could use, how fast after a start or
/// a deploy, how many calls of keys well under their limits it refused, and what an overloaded key's calls cost.
///
/// Keys are classified from the schedule, the same for every design: **hot** keys are offered at least 1.5× the
/// rate of their tightest limit (the workload's hot tenants); **warm** keys never offered more than 90% of any of
/// their limits in any window. Capacity is measured in aligned windows of a hot key's tightest limit (the whole run
/// when that window is longer than the run), as admitted calls over the limit. A window in which the provider would
/// not take the key's calls (the replayed outage of its integration, or a call of the key refused by a breaker or a
/// provider's back-off) measures the breaker, not the limit, and is left out of the capacity figures.
public struct UsageFigures: Sendable, Codable, Hashable {
    /// Mean admitted share of the limit over the hot keys' undisturbed windows (after the first window, away from
    /// deploys, crashes and partitions and from the provider's trouble); nil without hot keys or such windows.
    public var usableCapacitySteady: Double?
    /// The same in the first window of the run (a cold start).
    public var usableCapacityFirstWindow: Double?
    /// The same in the first window that starts at or after the deploy (or crash); nil without one.
    public var usableCapacityAfterDeploy: Double?
    /// From the start until the end of the first window in which the hot keys got 95% of their limit.
    public var timeToFullCapacitySeconds: Double?
    /// From the deploy (or crash) until the end of the first window after it in which they did.
    public var timeToFullCapacityAfterDeploySeconds: Double?
    /// Rate-limit refusals of warm keys' calls while every limit of the key held less than 90% of it in its
    /// trailing window, over all calls of warm keys.
    public var falseRefusalRate: Double?
    public var warmKeyCalls: Int
    public var falseRefusals: Int
    public var hotKeys: Int
    /// Interactions with Redis that warm keys' calls sent themselves (lease or grant requests, a script counting once)
    /// per warm key's call; nil without warm keys.
    public var warmKeyInteractionsPerCall: Double?
    /// The fewest that any exact design can expect for the same calls without refusing any (``PermitBound``).
    public var warmKeyInteractionsLowerBound: Double?
    /// Commands the hot keys' calls sent themselves (grants, leases; every command for the baselines) per admitted
    /// call of theirs, from the instances' accounting (a script counts once).
    public var overloadedCommandsPerAdmittedCall: Double?

    /// One call's record for the figures.
    struct Record {
        var call: SimulatedCall
        var outcome: SimulatedOutcome
        /// Commands the call itself sent (see ``ReplayedInstance/ownCallComponents``).
        var ownCommands: Int
    }

    /// The window a policy is measured in, and its limit per window (a token bucket: its rolling equivalent).
    static func measure(_ policy: RateLimitPolicy) -> (limit: Int, window: Int64, rolling: Bool)? {
        switch policy {
        case .fixedWindow(let limit, let window): return (limit, window.nanoseconds, false)
        case .rollingWindow(let limit, let window): return (limit, window.nanoseconds, true)
        case .tokenBucket(let rate, let period, let burst):
            return (burst, period.nanoseconds / Int64(rate) * Int64(burst), true)
        case .concurrency: return nil
        }
    }

    init(workload: Workload, records: [Record]) {
        let end = workload.duration.nanoseconds
        var offered: [SimulatedKey: [Int64]] = [:]
        var admitted: [SimulatedKey: [Int64]] = [:]
        /// Calls of a key refused by a breaker or a provider's back-off.
        var heldBack: [SimulatedKey: [Int64]] = [:]
        for record in records {
            offered[record.call.key, default: []].append(record.call.time)
            switch record.outcome {
            case .upstream: admitted[record.call.key, default: []].append(record.call.time)
            case .refused(.breakerOpen), .refused(.providerBackoff): heldBack[record.call.key, default: []].append(record.call.time)
            default: break
            }
        }
        let outage = workload.outageSpan
        /// Whether the provider would not take the key's calls in `[start, end)`.
        func providerTrouble(_ key: SimulatedKey, from start: Int64, to end: Int64) -> Bool {
            if let outage, key.integration == outage.integration, start < outage.end, end > outage.start { return true }
            return (heldBack[key] ?? []).contains { $0 >= start && $0 < end }
        }
        func measures(_ key: SimulatedKey) -> [(limit: Int, window: Int64, rolling: Bool)] {
            workload.policies(integration: key.integration, operation: key.operation).compactMap(Self.measure)
        }
        // Hot: offered ≥ 1.5× the rate of the tightest limit (a window longer than the run counts as the run).
        // Warm: ≤ 90% of every limit in every window.
        var hot: [SimulatedKey: (limit: Int, window: Int64, rolling: Bool)] = [:]
        var warm: Set<SimulatedKey> = []
        for (key, times) in offered {
            let limits = measures(key)
            guard let tightest = limits.min(by: { Self.rate($0, run: end) < Self.rate($1, run: end) }) else { continue }
            if Double(times.count) / Double(end) >= 1.5 * Self.rate(tightest, run: end) {
                hot[key] = tightest
            } else if limits.allSatisfy({ Self.peak(times, window: $0.window, rolling: $0.rolling) <= Int(0.9 * Double($0.limit)) }) {
                warm.insert(key)
            }
        }
        hotKeys = hot.count
        // In key order, so that sums of shares come out the same to the last bit on every run.
        let hotInOrder = hot.sorted { $0.key < $1.key }

        // Capacity in aligned windows (or the run, for a window longer than it).
        func share(from start: Int64) -> (share: Double, end: Int64)? {
            var shares: [Double] = []
            var windowEnd = start
            for (key, measure) in hotInOrder {
                let length = min(measure.window, end)
                let windowStart = measure.window <= end ? start.roundedUp(to: length) : 0
                guard windowStart + length <= end, !providerTrouble(key, from: windowStart, to: windowStart + length) else { continue }
                let count = (admitted[key] ?? []).count { $0 >= windowStart && $0 < windowStart + length }
                shares.append(Double(count) / Double(measure.limit))
                windowEnd = max(windowEnd, windowStart + length)
            }
            return shares.isEmpty ? nil : (shares.reduce(0, +) / Double(shares.count), windowEnd)
        }
        let disruption = workload.disruption
        usableCapacityFirstWindow = share(from: 0)?.share
        usableCapacityAfterDeploy = disruption.flatMap { share(from: $0.start)?.share }
        // Steady: every aligned window after the first that overlaps no disruption.
        var steady: [Double] = []
        for (key, measure) in hotInOrder where measure.window < end {
            var start = measure.window
            while start + measure.window <= end {
                let disturbed = disruption.map { start < $0.end + measure.window && start + measure.window > $0.start } ?? false
                if !disturbed, !providerTrouble(key, from: start, to: start + measure.window) {
                    let count = (admitted[key] ?? []).count { $0 >= start && $0 < start + measure.window }
                    steady.append(Double(count) / Double(measure.limit))
                }
                start += measure.window
            }
        }
        usableCapacitySteady = steady.isEmpty ? nil : steady.reduce(0, +) / Double(steady.count)
        func timeToFull(after event: Int64) -> Double? {
            var start = event
            while start < end {
                guard let (value, windowEnd) = share(from: start), windowEnd > start else { return nil }
                if value >= 0.95 { return Double(windowEnd - event) / 1e9 }
                start = windowEnd
            }
            return nil
        }
        timeToFullCapacitySeconds = hot.isEmpty ? nil : timeToFull(after: 0)
        timeToFullCapacityAfterDeploySeconds = hot.isEmpty ? nil : disruption.flatMap { timeToFull(after: $0.start) }

        // False refusals of warm keys.
        var warmCalls = 0
        var refusals = 0
        for record in records where warm.contains(record.call.key) {
            warmCalls += 1
            guard case .refused(.rateLimited) = record.outcome else { continue }
            let times = admitted[record.call.key] ?? []
            let t = record.call.time
            let underEveryLimit = measures(record.call.key).allSatisfy { measure in
                let from = measure.rolling ? t - measure.window + 1 : t.floorDivided(by: measure.window) * measure.window
                return Double(times.count { $0 >= from && $0 <= t }) < 0.9 * Double(measure.limit)
            }
            if underEveryLimit { refusals += 1 }
        }
        warmKeyCalls = warmCalls
        falseRefusals = refusals
        falseRefusalRate = warmCalls == 0 ? nil : Double(refusals) / Double(warmCalls)
        if warmCalls > 0 {
            let warmRecords = records.filter { warm.contains($0.call.key) }
            warmKeyInteractionsPerCall = Double(warmRecords.reduce(0) { $0 + $1.ownCommands }) / Double(warmCalls)
            let offered = warmRecords.compactMap { record -> (key: SimulatedKey, instance: Int, time: Int64)? in
                switch record.outcome {
                case .upstream, .refused(.rateLimited): return (record.call.key, record.call.instance, record.call.time)
                default: return nil
                }
            }
            warmKeyInteractionsLowerBound = PermitBound.interactions(offered: offered, workload: workload) / Double(warmCalls)
        }

        let hotRecords = records.filter { hot[$0.call.key] != nil }
        let hotAdmitted = hotRecords.count { if case .upstream = $0.outcome { true } else { false } }
        overloadedCommandsPerAdmittedCall = hotAdmitted == 0 ? nil : Double(hotRecords.reduce(0) { $0 + $1.ownCommands }) / Double(hotAdmitted)
    }

    /// Calls per nanosecond a limit admits over the run: its limit per window, a window longer than the run
    /// counting as the run (a day's limit can all be spent in a 20-minute replay).
    static func rate(_ measure: (limit: Int, window: Int64, rolling: Bool), run: Int64) -> Double {
        Double(measure.limit) / Double(min(measure.window, run))
    }

    /// The most of `times` in one window: aligned windows, or any interval `(t − window, t]`.
    static func peak(_ times: [Int64], window: Int64, rolling: Bool) -> Int {
        guard rolling else {
            var perWindow: [Int64: Int] = [:]
            for time in times { perWindow[time.floorDivided(by: window), default: 0] += 1 }
            return perWindow.values.max() ?? 0
        }
        let sorted = times.sorted()
        var start = 0
        var most = 0
        for end in sorted.indices {
            while sorted[end] - sorted[start] >= window { start += 1 }
            most = max(most, end - start + 1)
        }
        return most
    }
}

extension Workload {
    /// When the fleet is disturbed (from the first instance leaving, crashing or losing Redis until the last one is
    /// back), as offsets from the start of the run in nanoseconds; nil without deploy, crash or partition.
    var disruption: (start: Int64, end: Int64)? {
        var spans: [(Int64, Int64)] = []
        if let deployAt { spans.append((deployAt.nanoseconds, (deployAt + deployPause * instances).nanoseconds)) }
        if let crashAt { spans.append((crashAt.nanoseconds, (crashAt + deployPause).nanoseconds)) }
        if let partitionAt { spans.append((partitionAt.nanoseconds, (partitionAt + partitionFor).nanoseconds)) }
        guard let start = spans.map(\.0).min(), let end = spans.map(\.1).max() else { return nil }
        return (start, end)
    }
}

extension Int64 {
    /// The smallest multiple of `step` at or above this value.
    func roundedUp(to step: Int64) -> Int64 { (self + step - 1).floorDivided(by: step) * step }
}
