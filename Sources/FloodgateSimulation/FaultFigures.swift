import Floodgate

/// How a replay handled the workload's faults: how fast the fleet stopped calling a failing or throttling API, how
/// many calls reached it meanwhile, and how many calls were refused without cause.
struct FaultFigures {
    var falseRejections = 0
    var breakerPropagationSeconds: Double?
    var callsDuringOutageAfterFirstFailure = 0
    var throttlePropagationSeconds: Double?
    var callsDuringRetryAfter = 0

    static let second: Int64 = 1_000_000_000

    init(workload: Workload, log: Simulation.Log, allowed: [String: [Int64]]) {
        let outageStart = workload.outageStart.components.seconds * Self.second
        let outageEnd = outageStart + Workload.outageLength.components.seconds * Self.second
        let hubspot = 1
        let slack = 0
        // The outage: from its start until every instance refuses hubspot.
        if workload.outage {
            let firstFailure = log.outcomes.first { $0.call.integration == hubspot && $0.call.time >= outageStart && $0.outcome == .upstream(.failure) }?.call.time
            if let firstFailure {
                for (call, outcome) in log.outcomes
                where call.integration == hubspot && call.time >= firstFailure && call.time < outageEnd {
                    if case .upstream = outcome { callsDuringOutageAfterFirstFailure += 1 }
                }
            }
            var firstRefusal: [Int: Int64] = [:]
            for (call, outcome) in log.outcomes where call.integration == hubspot && call.time >= outageStart && call.time < outageEnd {
                if outcome == .refused(.breakerOpen), firstRefusal[call.instance] == nil { firstRefusal[call.instance] = call.time }
            }
            if firstRefusal.count == workload.instances, let last = firstRefusal.values.max() {
                breakerPropagationSeconds = Double(last - outageStart) / Double(Self.second)
            }
        }
        // The 429: from it until every instance holds the tenant back.
        var throttleAt: Int64?
        var throttledTenant = -1
        if let throttled = log.outcomes.first(where: { $0.outcome == .upstream(.throttled(retryAfter: Workload.retryAfter)) }) {
            throttleAt = throttled.call.time
            throttledTenant = throttled.call.tenant
            let until = throttled.call.time + Workload.retryAfter.components.seconds * Self.second
            var firstRefusal: [Int: Int64] = [:]
            for (call, outcome) in log.outcomes
            where call.integration == slack && call.tenant == throttledTenant && call.time > throttled.call.time && call.time < until {
                switch outcome {
                case .refused:
                    if firstRefusal[call.instance] == nil { firstRefusal[call.instance] = call.time }
                case .upstream:
                    callsDuringRetryAfter += 1
                case .servedFromCache:
                    break
                }
            }
            if firstRefusal.count == workload.instances, let last = firstRefusal.values.max() {
                throttlePropagationSeconds = Double(last - throttled.call.time) / Double(Self.second)
            }
        }
        // False rejections: a rate-limit refusal while the key's window held fewer than its limit, or a breaker or
        // back-off refusal outside the faults (plus the breaker's open time and the back-off's jitter).
        for (call, outcome) in log.outcomes {
            guard case .refused(let code) = outcome else { continue }
            let integration = Workload.integrations[call.integration]
            switch code {
            case .rateLimited:
                let times = allowed["\(call.integration):\(call.tenant)"] ?? []
                switch Workload.policy(for: integration) {
                case .fixedWindow(let limit, let window), .rollingWindow(let limit, let window):
                    let length = window.components.seconds * Self.second
                    let inWindow: Int
                    if case .fixedWindow = Workload.policy(for: integration) {
                        let start = (call.time / length) * length
                        inWindow = times.filter { $0 >= start && $0 <= call.time }.count
                    } else {
                        inWindow = times.filter { $0 > call.time - length && $0 <= call.time }.count
                    }
                    if inWindow < limit { falseRejections += 1 }
                default:
                    break
                }
            case .breakerOpen:
                let duringOutage = call.integration == hubspot && call.time >= outageStart && call.time < outageEnd + 60 * Self.second
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
