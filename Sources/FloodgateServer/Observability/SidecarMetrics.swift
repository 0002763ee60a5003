import Floodgate
import Prometheus
import Synchronization

/// The sidecar's Prometheus registry: Redis commands by component and command (the client's accounting, through
/// this registry's swift-metrics factory), decisions and outcomes as they happen, and the state gauges refreshed at
/// each scrape (breaker states, mode, cache lookups by tier, budget usage, permits outstanding).
final class SidecarMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    private let decisions: [String: Counter]
    private let decisionCounts = Mutex<[String: [String: Int]]>([:])
    private let outcomes: [String: Counter]
    private let cacheLookups: [String: Counter]
    private let lastCacheCounts = Mutex<[String: Int]>([:])

    static let decisionNames = ["allowed", "rate_limited", "breaker_open", "provider_backoff", "other"]
    static let outcomeNames = ["success", "failure", "throttled", "ignored", "cancelled"]
    static let cacheTiers = ["near", "redis", "origin"]
    static let breakerStates = ["closed", "open", "halfOpen", "forcedOpen", "forcedClosed"]
    static let modes = ["shared", "degraded", "localOnly", "budgetShedding"]

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
        var decisions: [String: Counter] = [:]
        for name in Self.decisionNames {
            decisions[name] = registry.makeCounter(descriptor: .named("floodgate_decisions_total", help: "Acquire requests by decision"), labels: [("decision", name)])
        }
        self.decisions = decisions
        var outcomes: [String: Counter] = [:]
        for name in Self.outcomeNames {
            outcomes[name] = registry.makeCounter(descriptor: .named("floodgate_outcomes_total", help: "Outcomes recorded"), labels: [("outcome", name)])
        }
        self.outcomes = outcomes
        var lookups: [String: Counter] = [:]
        for tier in Self.cacheTiers {
            lookups[tier] = registry.makeCounter(
                descriptor: .named(
                    "floodgate_cache_lookups_total",
                    help: "Cache lookups answered by the near cache, by Redis, or by loading from the origin"
                ),
                labels: [("tier", tier)]
            )
        }
        cacheLookups = lookups
    }

    func decided(_ integration: String, _ refusal: FloodgateError.Code?) {
        let name = refusal.map { APIError.refusalName($0) ?? "other" } ?? "allowed"
        decisions[name]?.increment()
        decisionCounts.withLock { $0[integration, default: [:]][name, default: 0] += 1 }
    }

    /// This instance's decisions since start: integration → `allowed` or the refusal → calls.
    var decisionsByIntegration: [String: [String: Int]] { decisionCounts.withLock { $0 } }

    /// A call shadow mode let through that `refusal` would have stopped.
    func shadowRefused(_ integration: String, _ refusal: FloodgateError.Code) {
        registry.makeCounter(
            descriptor: .named("floodgate_shadow_refusals_total", help: "Calls shadow mode let through that would have been refused"),
            labels: [("integration", integration), ("reason", APIError.refusalName(refusal) ?? "other")]
        ).increment()
    }

    func recorded(_ outcome: CallOutcome) {
        outcomes[GuardRoutes.name(of: outcome)]?.increment()
    }

    /// Sets the state gauges from the sidecar's current state.
    func refresh(from sidecar: Sidecar) {
        for integration in sidecar.configuration.integrations {
            let state = GuardRoutes.describe(sidecar.floodgate.breakerState(of: integration)).0
            for candidate in Self.breakerStates {
                registry.makeGauge(
                    descriptor: .named("floodgate_breaker_state", help: "1 for the breaker's current state on this instance"),
                    labels: [("integration", integration), ("state", candidate)]
                ).set(candidate == state ? 1.0 : 0.0)
            }
        }
        let mode = sidecar.modeName
        for candidate in Self.modes {
            registry.makeGauge(descriptor: .named("floodgate_mode", help: "1 for the current mode"), labels: [("mode", candidate)]).set(candidate == mode ? 1.0 : 0.0)
        }
        let status = sidecar.floodgate.status
        registry.makeGauge(descriptor: .named("floodgate_keys", help: "Keys with state in memory")).set(Int64(status.keys))
        registry.makeGauge(descriptor: .named("floodgate_backoffs", help: "Tenant connections held back by a provider's throttle")).set(Int64(status.backoffs.count))
        registry.makeGauge(descriptor: .named("floodgate_fleet_members", help: "Members in the last membership view")).set(Int64(status.fleetMembers))
        registry.makeGauge(descriptor: .named("floodgate_permits_outstanding", help: "Permits acquired and not yet recorded")).set(Int64(sidecar.permits.count))
        let statistics = sidecar.cache.statistics
        let counts = ["near": statistics.nearHits + statistics.negativeHits + statistics.staleServed, "redis": statistics.redisHits, "origin": statistics.loads]
        lastCacheCounts.withLock { last in
            for (tier, count) in counts {
                let delta = count - last[tier, default: 0]
                if delta > 0 { cacheLookups[tier]?.increment(by: Int64(delta)) }
                last[tier] = count
            }
        }
        let directory = sidecar.cache.directoryStatus
        registry.makeGauge(descriptor: .named("floodgate_cache_directory_entries", help: "Cache keys the directory knows may exist in Redis")).set(Int64(directory.entries))
        registry.makeGauge(descriptor: .named("floodgate_cache_directory_bytes", help: "Memory the cache directory holds")).set(Int64(directory.bytes))
        registry.makeGauge(descriptor: .named("floodgate_cache_directory_complete", help: "1 when a miss of a key nobody wrote costs no Redis read")).set(Int64(directory.completeness == "complete" ? 1 : 0))
        registry.makeGauge(descriptor: .named("floodgate_cache_reads_skipped", help: "Near misses the directory answered with no Redis read")).set(Int64(statistics.readsSkipped))
        if let budget = sidecar.budget?.status {
            registry.makeGauge(descriptor: .named("floodgate_budget_used_today", help: "Redis commands counted against today's allowance")).set(Int64(budget.usedToday))
            registry.makeGauge(descriptor: .named("floodgate_budget_projected", help: "Commands projected for the day at the current rate")).set(Int64(budget.projected))
            if let allowance = budget.allowance {
                registry.makeGauge(descriptor: .named("floodgate_budget_allowance", help: "Commands allowed per day")).set(Int64(allowance))
            }
        }
    }

    /// The Prometheus text exposition.
    func render(from sidecar: Sidecar) -> [UInt8] {
        refresh(from: sidecar)
        return registry.emitToBuffer()
    }
}

extension MetricNameDescriptor {
    /// A metric by its whole name and help text (swift-prometheus builds names from parts; ours are whole).
    static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
