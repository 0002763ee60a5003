import Floodgate
import Hummingbird

/// `/api/health`, `/api/health/live`, `/metrics`, `/api/dashboard` (the dashboard's data) and `/` (the dashboard).
struct ObservabilityRoutes: Sendable {
    let sidecar: Sidecar

    func register(on router: Router<BasicRequestContext>) {
        router.get("api/health") { _, _ in try await health() }
        router.get("api/health/live") { _, _ in try json(["status": "alive"]) }
        router.get("metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: sidecar.metrics.render(from: sidecar)))
            )
        }
        router.get("api/dashboard") { _, _ in try dashboardData() }
        router.get("/") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: DashboardPage.html))
            )
        }
    }

    /// 200 while the sidecar coordinates as configured (shared, or local-only by choice); 503 when it runs on its own
    /// because Redis is unreachable or the budget sheds (decisions still work: the body says how).
    func health() async throws -> Response {
        let status = sidecar.floodgate.status
        let reading = await sidecar.health.read(sidecar)
        let mode = sidecar.modeName
        let budget = sidecar.budget?.status
        let attempts = sidecar.redis?.accounting.connectionAttempts()
        let report = HealthReport(
            status: mode == "degraded" || mode == "budgetShedding" ? "degraded" : "ok",
            mode: mode,
            instance: status.instanceID,
            fleetMembers: status.fleetMembers,
            keys: status.keys,
            openBreakers: status.openBreakers,
            backoffs: status.backoffs.count,
            permitsOutstanding: sidecar.permits.count,
            redis: .init(
                configured: sidecar.configuration.redisURL != nil,
                suspended: !sidecar.redisSwitch.isOn,
                connected: sidecar.redis?.isConnected ?? false,
                reachable: reading?.reachable,
                latencyMs: reading?.latencyMs,
                connectionsOpened: attempts?.connected,
                connectionAttemptsFailed: attempts?.failed,
                cluster: sidecar.redis?.clusterTopology.map {
                    HealthReport.Cluster(primaries: $0.primaries.map(\.description), slotsCovered: $0.coveredSlots)
                }
            ),
            budget: budget.map(HealthReport.Budget.init),
            cache: HealthReport.Cache(sidecar.cache),
            uptimeSeconds: Double(sidecar.now() - sidecar.startedAt) / 1e9,
            shadow: HealthReport.Shadow(sidecar)
        )
        return try json(report, status: report.status == "ok" ? .ok : .serviceUnavailable)
    }

    struct DashboardData: Codable, Sendable {
        struct Breaker: Codable, Sendable {
            var integration: String
            var state: String
            var openUntil: Int64?
        }
        struct Backoff: Codable, Sendable {
            var key: String
            var until: Int64
        }
        /// The fleet's Redis cost, and this instance's decisions.
        struct Fleet: Codable, Sendable {
            /// Redis commands per minute: the fleet's (`scope` = `fleet`, from the budget's shared counter, at no
            /// extra command) or, without a budget, this instance's (`instance`).
            var commandsPerMinute: Double?
            var scope: String
            var commandsPerDayAtThisRate: Int?
            var costPerMonth: Double?
            var pricePer100k: Double
            var members: Int
            /// This instance's decisions since start: integration → `allowed` or the refusal → calls.
            var decisions: [String: [String: Int]]
            /// The keys nearest what this instance holds of their limits (allowance or lease), most spent first.
            var nearest: [Nearest]
        }
        struct Nearest: Codable, Sendable {
            var key: String
            var policy: String
            var used: Int
            var share: Int
        }
        var mode: String
        var instance: String
        var fleet: Fleet
        var intervalSeconds: Int64
        var points: [CommandHistory.Point]
        var breakers: [Breaker]
        var backoffs: [Backoff]
        var budget: HealthReport.Budget?
        var cache: HealthReport.Cache
        var redisConfigured: Bool
        /// Failed attempts to connect to Redis since start (nil without Redis).
        var connectionAttemptsFailed: Int?
        /// Shadow mode's would-be refusals (nil when no integration is in shadow mode).
        var shadow: HealthReport.Shadow?
    }

    func dashboardData() throws -> Response {
        let status = sidecar.floodgate.status
        let points = sidecar.history.points(current: sidecar.redis?.accounting.snapshot(), at: sidecar.now())
        let fleetRate = sidecar.budget?.status.fleetCommandsPerMinute
        let rate = fleetRate ?? (sidecar.redis == nil ? nil : sidecar.history.commandsPerMinute(points))
        let perDay = rate.map { Int($0 * 1_440) }
        let price = sidecar.configuration.pricePer100k
        let fleet = DashboardData.Fleet(
            commandsPerMinute: rate,
            scope: fleetRate != nil ? "fleet" : "instance",
            commandsPerDayAtThisRate: perDay,
            costPerMonth: perDay.map { Double($0) * 30 / 100_000 * price },
            pricePer100k: price,
            members: status.fleetMembers,
            decisions: sidecar.metrics.decisionsByIntegration,
            nearest: sidecar.floodgate.keysNearestTheirShares(5).map {
                .init(key: $0.key.description, policy: $0.policy, used: $0.used, share: $0.share)
            }
        )
        let data = DashboardData(
            mode: sidecar.modeName,
            instance: status.instanceID,
            fleet: fleet,
            intervalSeconds: sidecar.history.interval.components.seconds,
            points: points,
            breakers: sidecar.configuration.integrations.map { integration in
                let (state, until) = GuardRoutes.describe(sidecar.floodgate.breakerState(of: integration))
                return .init(integration: integration, state: state, openUntil: until)
            },
            backoffs: status.backoffs.map { .init(key: $0.key.description, until: $0.value.nanosecondsSince1970 / 1_000_000) }
                .sorted { $0.key < $1.key },
            budget: (sidecar.budget?.status).map(HealthReport.Budget.init),
            cache: HealthReport.Cache(sidecar.cache),
            redisConfigured: sidecar.redis != nil,
            connectionAttemptsFailed: sidecar.redis?.accounting.connectionAttempts().failed,
            shadow: HealthReport.Shadow(sidecar)
        )
        return try json(data)
    }
}
