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
    /// For slack under the provider profiles: the method, an index into ``Workload/slackOperations``.
    public var operation: Int? = nil
    /// False for a hot tenant's extra calls (writes): they bypass the response cache.
    public var cacheable = true

    /// The limited key this call is counted in: integration, tenant and (when it has one) operation.
    public var key: SimulatedKey { SimulatedKey(integration: integration, tenant: tenant, operation: operation) }
}

/// A key the replay's limits count calls in.
public struct SimulatedKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var integration: Int
    public var tenant: Int
    public var operation: Int?

    public var description: String {
        "\(Workload.integrations[integration]):t\(tenant)" + (operation.map { ":\(Workload.slackOperations[$0].name)" } ?? "")
    }

    public static func < (lhs: SimulatedKey, rhs: SimulatedKey) -> Bool {
        (lhs.integration, lhs.tenant, lhs.operation ?? -1) < (rhs.integration, rhs.tenant, rhs.operation ?? -1)
    }
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
        let router = Router(workload)
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
            // The draws of the incident's workload come first and in their order, so its calls stay the same
            // whatever the new options do.
            let uniform = Int.random(in: 0..<workload.instances, using: &generator)
            let object = Int.random(in: 0..<workload.objects, using: &generator)
            let fails = Double.random(in: 0..<1, using: &generator) < workload.failureRate
            var call = SimulatedCall(
                time: Int64(time),
                instance: uniform,
                tenant: tenant,
                integration: integration,
                object: object,
                failsAtRandom: fails
            )
            call.instance = router.instance(for: tenant, uniform: uniform, using: &generator)
            if integration == 0, workload.limits == .profiles { call.operation = Self.slackOperation(using: &generator) }
            calls.append(call)
        }
        let hot = Self.hotCalls(workload, router: router, end: end)
        if !hot.isEmpty {
            calls += hot
            calls.sort { ($0.time, $0.tenant, $0.integration) < ($1.time, $1.tenant, $1.integration) }
        }
        self.calls = calls
        busiestSlackTenant = slackCalls.indices.max { slackCalls[$0] < slackCalls[$1] } ?? 0
    }

    /// The hot tenants' extra calls: Poisson at `hotFactor` times the rate their key's tightest limit allows, from
    /// a generator of their own (the workload's calls are not disturbed).
    static func hotCalls(_ workload: Workload, router: Router, end: Int64) -> [SimulatedCall] {
        guard workload.hotTenants > 0 else { return [] }
        var generator = SeededGenerator(seed: workload.seed ^ 0x686f_7400)
        let operation = workload.hotIntegration == 0 && workload.limits == .profiles ? 0 : nil
        let measures = workload.policies(integration: workload.hotIntegration, operation: operation).compactMap(UsageFigures.measure)
        guard let perNanosecond = measures.map({ UsageFigures.rate($0, run: end) }).min() else { return [] }
        let rate = perNanosecond * 1e9 * workload.hotFactor
        var calls: [SimulatedCall] = []
        for tenant in 0..<workload.hotTenants {
            var time = 0.0
            while true {
                time += -log(1 - Double.random(in: 0..<1, using: &generator)) / rate * 1e9
                guard Int64(time) < end else { break }
                let uniform = Int.random(in: 0..<workload.instances, using: &generator)
                var call = SimulatedCall(
                    time: Int64(time),
                    instance: uniform,
                    tenant: tenant,
                    integration: workload.hotIntegration,
                    object: 0,
                    failsAtRandom: Double.random(in: 0..<1, using: &generator) < workload.failureRate,
                    operation: operation,
                    cacheable: false
                )
                call.instance = router.instance(for: tenant, uniform: uniform, using: &generator)
                calls.append(call)
            }
        }
        return calls
    }

    static func slackOperation(using generator: inout SeededGenerator) -> Int {
        let u = Double.random(in: 0..<1, using: &generator)
        var running = 0.0
        for (index, operation) in Workload.slackOperations.enumerated() {
            running += operation.share
            if u < running { return index }
        }
        return Workload.slackOperations.count - 1
    }

    /// Picks the instance a call reaches, by the workload's routing.
    struct Router {
        let routing: Workload.Routing
        let instances: Int
        /// Zipf (exponent 1) over instances, for skewed routing.
        let cumulative: [Double]

        init(_ workload: Workload) {
            routing = workload.routing
            instances = workload.instances
            let weights = (1...workload.instances).map { 1 / Double($0) }
            let total = weights.reduce(0, +)
            var sum = 0.0
            cumulative = weights.map { sum += $0 / total; return sum }
        }

        func instance(for tenant: Int, uniform: Int, using generator: inout SeededGenerator) -> Int {
            switch routing {
            case .uniform:
                return uniform
            case .sticky:
                // A fixed, well-spread assignment of tenants to instances.
                return Int((UInt64(tenant) &* 0x9E37_79B9_7F4A_7C15) >> 33) % instances
            case .skewed:
                let u = Double.random(in: 0..<1, using: &generator)
                return cumulative.firstIndex { $0 > u } ?? instances - 1
            }
        }
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
        if let outage = workload.outageSpan, call.integration == outage.integration, call.time >= outage.start, call.time < outage.end {
            return .failure
        }
        let throttleAt = workload.throttleAt.components.seconds * 1_000_000_000
        if workload.throttle, !throttleSent, call.integration == 0, call.tenant == busiestSlackTenant, call.time >= throttleAt {
            return .throttled(retryAfter: Workload.retryAfter)
        }
        return call.failsAtRandom ? .failure : .success
    }
}
