import Floodgate
import FloodgateRedis
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `floodgate serve`: Floodgate for apps in any language, over loopback HTTP. Owns the Redis client (unless it runs
/// local-only), the `Floodgate` guards, the response cache, the command budget, the permits handed to clients, and
/// the HTTP application (`/v1` API, `/api/health`, `/metrics`, the dashboard at `/`).
public final class Sidecar: Sendable {
    public let configuration: SidecarConfiguration
    let redis: RedisClient?
    let floodgate: Floodgate
    let cache: ResponseCache
    let budget: CommandBudget?
    let permits: PermitTable
    let claims = CacheClaims()
    let metrics: SidecarMetrics
    let history: CommandHistory
    let health: HealthProbe
    /// The kill switch shared by the guards, the cache and the budget (`suspend.redis`, SIGHUP, `PUT /v1/admin/redis`).
    let redisSwitch: RedisSwitch
    let configurationSource: (@Sendable () async throws -> SidecarConfiguration)?
    let logger: Logger
    private let clock = WallClock()
    let startedAt: Int64

    /// Builds every part; nothing connects or listens until the application runs.
    ///
    /// - Throws: ``SidecarConfigurationError`` for a configuration the guards or the client refuse.
    /// - Parameter configurationSource: where SIGHUP and `POST /v1/admin/reload` read the configuration again (the
    ///   same flags, environment and file as at start); nil: no reload.
    public init(
        configuration: SidecarConfiguration,
        configurationSource: (@Sendable () async throws -> SidecarConfiguration)? = nil,
        logger: Logger = Logger(label: "floodgate.sidecar")
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.configurationSource = configurationSource
        self.logger = logger
        let metrics = SidecarMetrics()
        self.metrics = metrics
        history = CommandHistory()
        startedAt = clock.now.nanosecondsSince1970
        permits = PermitTable(instanceTag: configuration.guards.instanceID)
        let store: FloodgateStore
        let redisSwitch = RedisSwitch(on: !configuration.guards.suspendRedis)
        self.redisSwitch = redisSwitch
        if let redisConfiguration = try configuration.redisClientConfiguration() {
            let client: RedisClient
            do {
                client = try RedisClient(
                    configuration: redisConfiguration,
                    accounting: RedisCommandAccounting(metricsFactory: metrics.factory),
                    logger: logger
                )
            } catch let error as RedisClientError where error.code == .tls {
                // A CA file that holds no certificate, for one: a configuration error, named by its key.
                let key = configuration.redisCACertificatePath == nil ? "redis.url" : "redis.tls.ca"
                throw SidecarConfigurationError(key: key, problem: "TLS cannot be set up: \(error.message)")
            }
            redis = client
            store = .redis(client)
            budget = try configuration.budgetPerDay.map {
                try CommandBudget(
                    configuration: .init(perDay: $0, keyPrefix: configuration.guards.keyPrefix),
                    client: client,
                    redisSwitch: redisSwitch,
                    logger: logger,
                    metricsFactory: metrics.factory
                )
            }
        } else {
            redis = nil
            store = .memory
            budget = nil
        }
        floodgate = try Floodgate(configuration: configuration.guards, store: store, budget: budget, redisSwitch: redisSwitch, logger: logger)
        cache = try ResponseCache(
            configuration: .init(
                keyPrefix: configuration.guards.keyPrefix + ":c",
                invalidation: configuration.cacheInvalidation,
                configureKeyspaceNotifications: configuration.configureKeyspaceNotifications
            ),
            store: store,
            budget: budget,
            redisSwitch: redisSwitch,
            logger: logger,
            metricsFactory: metrics.factory
        )
        health = HealthProbe()
    }

    /// Now on the wall clock, nanoseconds since 1970.
    func now() -> Int64 { clock.now.nanosecondsSince1970 }

    /// The mode as the API reports it: `shared`, `localOnly` (no Redis configured, or `SUSPEND_REDIS`), `degraded`
    /// (Redis unreachable: local-only by outage) or `budgetShedding` (the command budget keeps coordination off Redis).
    var modeName: String {
        if let budget, budget.level >= .localOnly { return "budgetShedding" }
        switch floodgate.mode {
        case .shared: return "shared"
        case .degraded: return "degraded"
        case .localOnly: return "localOnly"
        }
    }

    /// What the sidecar starts as, for the start-up line: the mode and why.
    public var startingModeDescription: String {
        if configuration.redisURL == nil { return "localOnly (no REDIS_URL: memory store, zero Redis commands)" }
        if !redisSwitch.isOn { return "localOnly (SUSPEND_REDIS=true: zero Redis commands until switched on)" }
        return "shared (Redis \(redis.map { "\($0.configuration.host):\($0.configuration.port)" } ?? "?"))"
    }

    /// The HTTP routes.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ErrorBodyMiddleware())
        let api = router.group("v1")
        if let token = configuration.token { api.add(middleware: BearerTokenMiddleware(token: token)) }
        GuardRoutes(sidecar: self).register(on: api)
        CacheRoutes(sidecar: self).register(on: api)
        AdminRoutes(sidecar: self).register(on: api)
        ObservabilityRoutes(sidecar: self).register(on: router)
        return router
    }

    /// The services that run beside the HTTP server, in start order (shutdown runs in reverse: permits are given back
    /// while the guards and the client still run).
    public var services: [any Service] {
        var services: [any Service] = []
        if let redis { services.append(SwitchedRedisClient(client: redis, redisSwitch: redisSwitch)) }
        services.append(floodgate)
        services.append(cache)
        if let budget { services.append(budget) }
        services.append(SidecarHousekeeping(sidecar: self))
        if configurationSource != nil { services.append(SidecarReloader(sidecar: self)) }
        return services
    }

    /// Where the server listens: the Unix domain socket when one is configured (a stale one from an earlier run is
    /// removed first), else the host and port.
    var address: BindAddress {
        guard let path = configuration.socketPath else { return .hostname(configuration.host, port: configuration.port) }
        if (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeSocket {
            try? FileManager.default.removeItem(atPath: path)
        }
        return .unixDomainSocket(path: path)
    }

    /// Keeps other users off the Unix domain socket: mode 0600, right after it is bound (before the banner).
    func restrictSocket() {
        guard let path = configuration.socketPath else { return }
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }

    /// The application: the routes, bound to the configured address, with the sidecar's services.
    public func makeApplication(
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeRouter(),
            configuration: .init(address: address, serverName: "floodgate"),
            services: services,
            onServerRunning: { channel in
                self.restrictSocket()
                await onServerRunning(channel)
            },
            logger: logger
        )
    }

    /// Reads the configuration again and applies what can change without a restart: limits, breakers, shadow mode
    /// and `suspend.redis`.
    ///
    /// - Throws: ``SidecarConfigurationError`` naming the key (a bad value, or one that needs a restart); nothing
    ///   changes then.
    func reload() async throws {
        guard let configurationSource else {
            throw SidecarConfigurationError(key: nil, problem: "this sidecar was started without a configuration to reload")
        }
        var new = try await configurationSource()
        // Each reading draws a new random instance id when none is configured: the running one stays (instance.id
        // is never reloaded).
        new.guards.instanceID = configuration.guards.instanceID
        try new.validate()
        if let key = configuration.firstFixedKeyChanged(in: new) {
            throw SidecarConfigurationError(key: key, problem: "changes only with a restart; nothing was reloaded")
        }
        do {
            try floodgate.reload(new.guards)
        } catch let error as FloodgateError {
            throw SidecarConfigurationError(key: SidecarConfiguration.key(ofGuardsField: error.field), problem: error.message)
        }
    }

    /// Gives back every outstanding permit (recorded as cancelled): at shutdown, and for permits past their timeout.
    func giveBack(_ expired: [FloodgatePermit]) {
        for permit in expired { floodgate.record(permit, .cancelled) }
    }
}

/// The Redis client, started once the kill switch is on: a sidecar started with `SUSPEND_REDIS=true` does not even
/// connect until it is switched on. Switched off later, the connection stays open and idle (nothing is sent).
struct SwitchedRedisClient: Service {
    let client: RedisClient
    let redisSwitch: RedisSwitch

    func run() async throws {
        let started: Bool = await cancelWhenGracefulShutdown { (try? await redisSwitch.waitUntilOn()) != nil }
        guard started else { return }
        try await client.run()
    }
}

/// The sidecar's background work: permits never recorded are given back after their timeout; the dashboard's
/// command history is sampled; at graceful shutdown every outstanding permit is given back.
struct SidecarHousekeeping: Service {
    let sidecar: Sidecar

    func run() async throws {
        let interval = sidecar.history.interval
        sidecar.history.sample(sidecar.redis?.accounting.snapshot(), at: sidecar.now())
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: min(interval, .seconds(1)))
                } catch {
                    break
                }
                let now = sidecar.now()
                sidecar.giveBack(sidecar.permits.expire(at: now))
                sidecar.history.sampleIfDue(sidecar.redis?.accounting.snapshot(), at: now)
            }
        }
        let outstanding = sidecar.permits.drain()
        if !outstanding.isEmpty {
            sidecar.logger.info("giving back outstanding permits at shutdown", metadata: ["permits": "\(outstanding.count)"])
        }
        sidecar.giveBack(outstanding)
    }
}
