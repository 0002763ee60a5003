/// Watches the replay's faults through the instances' own state, at every call (before and after it): from when
/// each instance refuses the failing integration, and from when each holds the throttled tenant back. State, not
/// refusals, so an instance that happens to get no call of that key still counts as soon as it would refuse one.
struct FaultWatch {
    /// Offsets from the start of the run (nanoseconds).
    var breakerHeldFrom: [Int: Int64] = [:]
    var throttleAt: Int64?
    var throttledTenant: Int?
    var throttleHeldFrom: [Int: Int64] = [:]

    let outage: (integration: Int, start: Int64, end: Int64)?
    let retryAfter: Int64

    init(workload: Workload) {
        outage = workload.outageSpan
        retryAfter = Workload.retryAfter.components.seconds * 1_000_000_000
    }

    /// Looks at every instance at offset `time` (`now` on the replay's clock).
    mutating func look(at time: Int64, now: Int64, instances: [any ReplayedInstance]) {
        if let outage, time >= outage.start, time < outage.end, breakerHeldFrom.count < instances.count {
            for (index, instance) in instances.enumerated()
            where breakerHeldFrom[index] == nil && instance.refusesBreaker(of: Workload.integrations[outage.integration], at: now) {
                breakerHeldFrom[index] = time
            }
        }
        if let throttleAt, let throttledTenant, time < throttleAt + retryAfter, throttleHeldFrom.count < instances.count {
            for (index, instance) in instances.enumerated()
            where throttleHeldFrom[index] == nil && instance.holdsBack(Workload.integrations[0], tenant: "t\(throttledTenant)", at: now) {
                throttleHeldFrom[index] = time
            }
        }
    }

    /// Whether some instance holds a fault (the open breaker, the throttled tenant) that others do not hold yet.
    func isSpreading(at time: Int64, instanceCount: Int) -> Bool {
        let inOutage = outage.map { time >= $0.start && time < $0.end } ?? false
        let breaker = inOutage && !breakerHeldFrom.isEmpty && breakerHeldFrom.count < instanceCount
        var throttle = false
        if let throttleAt, time < throttleAt + retryAfter {
            throttle = !throttleHeldFrom.isEmpty && throttleHeldFrom.count < instanceCount
        }
        return breaker || throttle
    }

    /// Notes a call's outcome: the first 429 starts the throttle watch.
    mutating func noteOutcome(_ outcome: SimulatedOutcome, of call: SimulatedCall) {
        if throttleAt == nil, case .upstream(.throttled) = outcome {
            throttleAt = call.time
            throttledTenant = call.tenant
        }
    }
}
