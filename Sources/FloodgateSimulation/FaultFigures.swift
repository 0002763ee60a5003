import Floodgate

/// How a replay handled the workload's faults: how fast the fleet stopped calling a failing or throttling API (from
/// the instances' state, see ``FaultWatch``), how many calls reached it meanwhile, and how many calls were refused
/// without cause.
struct FaultFigures {
    var falseRejections = 0
    var breakerDetectionSeconds: Double?
    var breakerPropagationSeconds: Double?
    var callsDuringOutageAfterFirstFailure = 0
    var throttlePropagationSeconds: Double?
    var callsDuringRetryAfter = 0

    static let second: Int64 = 1_000_000_000

    init(workload: Workload, log: Simulation.Log, allowed: [SimulatedKey: [Int64]]) {
        let slack = 0
        // The outage: from its start until the first instance refuses hubspot (detection), then until every
        // instance does (propagation); the calls that reached the failing API after its first failure.
        let watch = log.faults
        if let (hubspot, outageStart, outageEnd) = workload.outageSpan {
            let firstFailure = log.outcomes.first { $0.call.integration == hubspot && $0.call.time >= outageStart && $0.outcome == .upstream(.failure) }?.call.time
            if let firstFailure {
                for (call, outcome) in log.outcomes
                where call.integration == hubspot && call.time >= firstFailure && call.time < outageEnd {
                    if case .upstream = outcome { callsDuringOutageAfterFirstFailure += 1 }
                }
            }
            if let first = watch.breakerHeldFrom.values.min() {
                breakerDetectionSeconds = Double(first - outageStart) / Double(Self.second)
                if watch.breakerHeldFrom.count == workload.instances, let last = watch.breakerHeldFrom.values.max() {
                    breakerPropagationSeconds = Double(last - first) / Double(Self.second)
                }
            }
        }
        // The 429: from it until every instance holds the tenant back; the calls that reached that tenant's slack
        // during its Retry-After.
        let throttleAt = watch.throttleAt
        let throttledTenant = watch.throttledTenant ?? -1
        if let throttleAt {
            for (call, outcome) in log.outcomes
            where call.integration == slack && call.tenant == throttledTenant && call.time > throttleAt && call.time < throttleAt + watch.retryAfter {
                if case .upstream = outcome { callsDuringRetryAfter += 1 }
            }
            if watch.throttleHeldFrom.count == workload.instances, let last = watch.throttleHeldFrom.values.max() {
                throttlePropagationSeconds = Double(last - throttleAt) / Double(Self.second)
            }
        }
        // False rejections: a rate-limit refusal while the key's window held fewer than its limit, or a breaker or
        // back-off refusal outside the faults (plus the breaker's open time and the back-off's jitter).
        for (call, outcome) in log.outcomes {
            guard case .refused(let code) = outcome else { continue }
            switch code {
            case .rateLimited:
                // False when every limit of the key held fewer than its limit in its window at the call.
                let times = allowed[call.key] ?? []
                let measures = workload.policies(integration: call.integration, operation: call.operation).compactMap(UsageFigures.measure)
                let underEvery = measures.allSatisfy { measure in
                    let from = measure.rolling ? call.time - measure.window + 1 : call.time.floorDivided(by: measure.window) * measure.window
                    return times.count { $0 >= from && $0 <= call.time } < measure.limit
                }
                if !measures.isEmpty, underEvery { falseRejections += 1 }
            case .breakerOpen:
                let duringOutage = workload.outageSpan.map { outage in
                    call.integration == outage.integration && call.time >= outage.start && call.time < outage.end + 60 * Self.second
                } ?? false
                if !duringOutage { falseRejections += 1 }
            case .providerBackoff:
                let held = throttleAt.map { call.tenant == throttledTenant && call.integration == slack && call.time < $0 + 35 * Self.second } ?? false
                if !held { falseRejections += 1 }
            default:
                break
            }
        }
    }
}
