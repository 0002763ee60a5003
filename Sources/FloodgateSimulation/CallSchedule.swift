import Floodgate

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One call of the replay: when, on which instance, for which tenant connection and cached object.
public struct SimulatedCall: Sendable, Hashable {
    /// Offset from the start of the run, in nanoseconds.
    public var time: Int64
    public var instance: Int
    public var tenant: Int
    /// Index into ``Workload/integrations``.
    public var integration: Int
    public var object: Int
    /// Whether the upstream call fails at random (drawn with the call, so every design sees the same faults).
    public var failsAtRandom: Bool
}

/// The calls of a workload, generated deterministically from its seed: Poisson arrivals at the fleet rate, instances
/// uniform, tenants Zipf, integrations by the mix, objects uniform.
public struct CallSchedule: Sendable {
    public let workload: Workload
    public let calls: [SimulatedCall]
    /// The tenant with the most slack calls (the 429's target).
    public let busiestSlackTenant: Int

    public init(_ workload: Workload) throws {
        try workload.validate()
        self.workload = workload
        var generator = SeededGenerator(seed: workload.seed)
        var cumulative: [Double] = []
        var sum = 0.0
        for rank in 1...workload.tenants {
            sum += 1 / pow(Double(rank), workload.zipf)
            cumulative.append(sum)
        }
        cumulative = cumulative.map { $0 / sum }
        let mixTotal = workload.mix.reduce(0, +)
        let mix = workload.mix.map { $0 / mixTotal }
        let end = workload.duration.components.seconds * 1_000_000_000
        var calls: [SimulatedCall] = []
        calls.reserveCapacity(Int(workload.rate * Double(workload.minutes) * 60 * 1.1))
        var time = 0.0
        var slackCalls = [Int](repeating: 0, count: workload.tenants)
        while true {
            // Exponential inter-arrival times give Poisson arrivals.
            time += -log(1 - Double.random(in: 0..<1, using: &generator)) / workload.rate * 1e9
            guard Int64(time) < end else { break }
            let u = Double.random(in: 0..<1, using: &generator)
            let tenant = cumulative.firstIndex { $0 > u } ?? workload.tenants - 1
            let v = Double.random(in: 0..<1, using: &generator)
            var integration = 0
            var running = mix[0]
            while integration < mix.count - 1 && v >= running {
                integration += 1
                running += mix[integration]
            }
            if integration == 0 { slackCalls[tenant] += 1 }
            calls.append(
                SimulatedCall(
                    time: Int64(time),
                    instance: Int.random(in: 0..<workload.instances, using: &generator),
                    tenant: tenant,
                    integration: integration,
                    object: Int.random(in: 0..<workload.objects, using: &generator),
                    failsAtRandom: Double.random(in: 0..<1, using: &generator) < workload.failureRate
                )
            )
        }
        self.calls = calls
        busiestSlackTenant = slackCalls.indices.max { slackCalls[$0] < slackCalls[$1] } ?? 0
    }

    /// What the upstream API answers to a call at its time, under the workload's faults.
    public enum Answer: Sendable, Hashable {
        case success
        case failure
        case throttled(retryAfter: Duration)
    }

    /// The answer to `call`. `throttleSent` says whether the 429 has been answered already (it is answered once, to
    /// the busiest slack tenant's first call at or after two thirds of the run).
    public func answer(to call: SimulatedCall, throttleSent: Bool) -> Answer {
        let outageStart = workload.outageStart.components.seconds * 1_000_000_000
        let outageEnd = outageStart + Workload.outageLength.components.seconds * 1_000_000_000
        if workload.outage, call.integration == 1, call.time >= outageStart, call.time < outageEnd { return .failure }
        let throttleAt = workload.throttleAt.components.seconds * 1_000_000_000
        if workload.throttle, !throttleSent, call.integration == 0, call.tenant == busiestSlackTenant, call.time >= throttleAt {
            return .throttled(retryAfter: Workload.retryAfter)
        }
        return call.failsAtRandom ? .failure : .success
    }
}
