import Configuration
import Floodgate
import FloodgateRedis
import Foundation

/// Everything `floodgate serve` runs with, read from swift-configuration: command-line flags over environment
/// variables over a JSON configuration file over the defaults. Keys (environment names in brackets):
///
/// | key | default | meaning |
/// |---|---|---|
/// | `floodgate.host` (`FLOODGATE_HOST`) | `127.0.0.1` | address to bind |
/// | `floodgate.port` (`FLOODGATE_PORT`) | `8080` | port to bind (0: any free port) |
/// | `floodgate.socket` (`FLOODGATE_SOCKET`) | none | a Unix domain socket to serve on instead (mode 0600) |
/// | `floodgate.token` (`FLOODGATE_TOKEN`) | none | bearer token required by `/v1` (secret) |
/// | `redis.url` (`REDIS_URL`) | none: memory store, local-only | `redis://` or `rediss://` URL (secret) |
/// | `redis.tls.ca` (`REDIS_TLS_CA`) | none: the system's trust roots | PEM file of the CA that signed the server (`rediss://` only) |
/// | `suspend.redis` (`SUSPEND_REDIS`) | `false` | local-only mode even with a URL: zero commands |
/// | `fleet.size`, `instance.index`, `instance.id`, `key.prefix`, `share.fraction` | see ``FloodgateConfiguration`` | the fleet |
/// | `fallback` (`FALLBACK`) | `exact` | beyond held leases without a fresh view of the fleet: `exact` (nothing) or `available` (the local-only share) |
/// | `clock.skew` (`CLOCK_SKEW`) | `250ms` | the most the instances' clocks may differ (``FloodgateConfiguration/maximumClockSkew``): what exactness allows for at window edges |
/// | `breaker.consecutive.failures` (`BREAKER_CONSECUTIVE_FAILURES`) | `5` | failures in a row (fleet-wide) that open an integration's breaker; 0: the failure rate only (``BreakerPolicy/consecutiveFailures``) |
/// | `floodgate.integrations` (`FLOODGATE_INTEGRATIONS`) | `slack,hubspot,salesforce` | integrations the API accepts |
/// | `floodgate.limits.<integration>` | the built-in profile | policies (``PolicySpec``), replacing the profile |
/// | `floodgate.budget` (`FLOODGATE_BUDGET`) | none | Redis commands allowed per day (``CommandBudget``) |
/// | `floodgate.shadow` (`FLOODGATE_SHADOW`) | none | integrations in shadow mode (`all` for every one): never refuse, count |
/// | `floodgate.permit.timeout` (`FLOODGATE_PERMIT_TIMEOUT`) | `60s` | a permit never recorded is given back after this |
/// | `floodgate.body.limit` (`FLOODGATE_BODY_LIMIT`) | `65536` | largest request body, bytes |
public struct SidecarConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Serve on this Unix domain socket instead of TCP: only this user may connect (the socket is made mode 0600).
    public var socketPath: String?
    public var token: String?
    public var redisURL: String?
    /// A PEM file of the CA(s) to verify a `rediss://` server against instead of the system's trust roots.
    public var redisCACertificatePath: String?
    public var guards: FloodgateConfiguration
    /// Integrations the API accepts, in order.
    public var integrations: [String]
    public var budgetPerDay: Int?
    public var permitTimeout: Duration = .seconds(60)
    public var bodyLimit = 65_536
    /// `cache.invalidation`: `automatic` (keyspace notifications, else tracking, else publish) or `publish`.
    public var cacheInvalidation = ResponseCache.Configuration.InvalidationPreference.automatic
    /// `cache.keyspace.configure`: turn the server's keyspace notifications on for the cache's directory.
    public var configureKeyspaceNotifications = false
    /// `floodgate.price.per100k`: what the Redis service charges per 100,000 commands, for the dashboard's cost a month.
    public var pricePer100k = 0.20

    /// The built-in profiles, by the names the API uses.
    public static let builtInProfiles: [String: ProviderProfile] = [
        "slack": .slack(),
        "hubspot": .hubSpot(),
        "salesforce": .salesforce(),
    ]

    /// The embedded default: memory store, local-only mode, the three built-in integrations, loopback port 8080.
    public init() {
        guards = FloodgateConfiguration(profiles: Self.builtInProfiles)
        integrations = ["slack", "hubspot", "salesforce"]
    }

    /// Reads and validates every key.
    ///
    /// - Throws: ``SidecarConfigurationError`` naming the first key that is wrong.
    public init(config: ConfigReader) throws(SidecarConfigurationError) {
        self.init()
        try Self.checkTypes(config)
        host = config.string(forKey: "floodgate.host", default: host)
        port = config.int(forKey: "floodgate.port", default: port)
        socketPath = config.string(forKey: "floodgate.socket")
        token = config.string(forKey: "floodgate.token", isSecret: true)
        redisURL = config.string(forKey: "redis.url", isSecret: true)
        redisCACertificatePath = config.string(forKey: "redis.tls.ca")
        integrations = config.stringArray(forKey: "floodgate.integrations", default: integrations)
        let shadow = config.stringArray(forKey: "floodgate.shadow", default: [])
        for name in shadow where name != "all" && !integrations.contains(name) {
            throw SidecarConfigurationError(key: "floodgate.shadow", problem: "\(name) is not a configured integration (or all)")
        }
        budgetPerDay = config.int(forKey: "floodgate.budget")
        bodyLimit = config.int(forKey: "floodgate.body.limit", default: bodyLimit)
        switch config.string(forKey: "cache.invalidation", default: "automatic") {
        case "automatic": cacheInvalidation = .automatic
        case "publish": cacheInvalidation = .publish
        case let other: throw SidecarConfigurationError(key: "cache.invalidation", problem: "\(other.debugDescription) is not automatic or publish")
        }
        if let text = config.string(forKey: "fallback"), FloodgateConfiguration.Fallback(rawValue: text) == nil {
            throw SidecarConfigurationError(key: "fallback", problem: "\(text.debugDescription) is not exact or available")
        }
        var clockSkew: Duration?
        if let text = config.string(forKey: "clock.skew") {
            guard let skew = PolicySpec.duration(text) else {
                throw SidecarConfigurationError(key: "clock.skew", problem: "\(text.debugDescription) is not a duration such as 250ms")
            }
            clockSkew = skew
        }
        configureKeyspaceNotifications = config.bool(forKey: "cache.keyspace.configure", default: false)
        pricePer100k = config.double(forKey: "floodgate.price.per100k", default: pricePer100k)
        guard pricePer100k >= 0, pricePer100k.isFinite else {
            throw SidecarConfigurationError(key: "floodgate.price.per100k", problem: "must be a price of at least 0")
        }
        if let text = config.string(forKey: "floodgate.permit.timeout") {
            guard let timeout = PolicySpec.duration(text) else {
                throw SidecarConfigurationError(key: "floodgate.permit.timeout", problem: "\"\(text)\" is not a duration such as 60s")
            }
            permitTimeout = timeout
        }
        var profiles: [String: ProviderProfile] = [:]
        for integration in integrations {
            guard (try? GuardKey(integration: integration, tenant: "t")) != nil else {
                throw SidecarConfigurationError(key: "floodgate.integrations", problem: "\"\(integration)\" is not a valid integration name")
            }
            let key = "floodgate.limits.\(integration)"
            if let specs = config.stringArray(forKey: ConfigKey(key)) {
                guard !specs.isEmpty else { throw SidecarConfigurationError(key: key, problem: "no policy given") }
                var policies: [RateLimitPolicy] = []
                for spec in specs {
                    do {
                        policies.append(try PolicySpec.parse(spec))
                    } catch {
                        throw SidecarConfigurationError(key: key, problem: error.problem)
                    }
                }
                profiles[integration] = .generic(policies)
            } else if let profile = Self.builtInProfiles[integration] {
                profiles[integration] = profile
            } else {
                throw SidecarConfigurationError(key: key, problem: "\(integration) has no built-in profile: give its limits, e.g. rolling:100/60s")
            }
        }
        guards = FloodgateConfiguration(config: config, profiles: profiles)
        if let clockSkew { guards.maximumClockSkew = clockSkew }
        if let run = config.int(forKey: "breaker.consecutive.failures") {
            guard run >= 0 else {
                throw SidecarConfigurationError(key: "breaker.consecutive.failures", problem: "must be 0 (off) or more")
            }
            guards.defaultBreaker.consecutiveFailures = run
        }
        guards.shadowIntegrations = Set(shadow.map { $0 == "all" ? "*" : $0 })
        try validate()
    }

    /// The first key, among those that take a restart, whose value differs in `new` (everything but the limits,
    /// breakers, shadow mode and `suspend.redis`).
    func firstFixedKeyChanged(in new: SidecarConfiguration) -> String? {
        let keys: [(String, Bool)] = [
            ("floodgate.host", host == new.host), ("floodgate.port", port == new.port),
            ("floodgate.socket", socketPath == new.socketPath), ("floodgate.token", token == new.token),
            ("redis.url", redisURL == new.redisURL), ("redis.tls.ca", redisCACertificatePath == new.redisCACertificatePath),
            ("floodgate.integrations", integrations == new.integrations), ("floodgate.budget", budgetPerDay == new.budgetPerDay),
            ("floodgate.permit.timeout", permitTimeout == new.permitTimeout), ("floodgate.body.limit", bodyLimit == new.bodyLimit),
            ("cache.invalidation", cacheInvalidation == new.cacheInvalidation),
            ("cache.keyspace.configure", configureKeyspaceNotifications == new.configureKeyspaceNotifications),
        ]
        if let key = keys.first(where: { !$0.1 })?.0 { return key }
        return guards.firstFixedFieldChanged(in: new.guards).map { Self.key(ofGuardsField: $0) ?? $0 }
    }

    /// The configuration key that sets a field of ``FloodgateConfiguration`` (as ``FloodgateError/field`` names it).
    static func key(ofGuardsField field: String?) -> String? {
        guard let field else { return nil }
        if field.hasPrefix("limits.") { return "floodgate." + field }
        let keys = [
            "instanceID": "instance.id", "fleetSize": "fleet.size", "instanceIndex": "instance.index",
            "shareFraction": "share.fraction", "keyPrefix": "key.prefix", "maximumClockSkew": "clock.skew",
        ]
        return keys[field]
    }

    /// Keys read as numbers or flags. swift-configuration's non-throwing readers answer nil (then the default) for a
    /// value of the wrong type: a key given as text that does not read as its type is an error instead.
    static let typedKeys: [(key: String, type: String)] = [
        ("floodgate.port", "int"), ("floodgate.budget", "int"), ("floodgate.body.limit", "int"),
        ("fleet.size", "int"), ("instance.index", "int"), ("share.fraction", "double"), ("suspend.redis", "bool"),
        ("cache.keyspace.configure", "bool"), ("floodgate.price.per100k", "double"), ("breaker.consecutive.failures", "int"),
    ]

    static func checkTypes(_ config: ConfigReader) throws(SidecarConfigurationError) {
        for (key, type) in typedKeys {
            let configKey = ConfigKey(key)
            let readable: Bool
            switch type {
            case "int": readable = config.int(forKey: configKey) != nil
            case "double": readable = config.double(forKey: configKey) != nil
            default: readable = config.bool(forKey: configKey) != nil
            }
            if !readable, let text = config.string(forKey: configKey) {
                let expected = type == "bool" ? "true or false" : type == "int" ? "a whole number" : "a number"
                throw SidecarConfigurationError(key: key, problem: "\(text.debugDescription) is not \(expected)")
            }
        }
    }

    /// The Redis client's configuration from `redis.url` and `redis.tls.ca`; nil without a URL.
    public func redisClientConfiguration() throws(SidecarConfigurationError) -> RedisClientConfiguration? {
        guard let redisURL else {
            if redisCACertificatePath != nil {
                throw SidecarConfigurationError(key: "redis.tls.ca", problem: "is set but redis.url is not: give a rediss:// URL")
            }
            return nil
        }
        var configuration: RedisClientConfiguration
        do {
            configuration = try RedisClientConfiguration(url: redisURL)
        } catch {
            // The URL may hold a password: say what is wrong without repeating it.
            throw SidecarConfigurationError(key: "redis.url", problem: "not a redis:// or rediss:// URL this client accepts")
        }
        if let path = redisCACertificatePath {
            guard let tls = configuration.tls else {
                throw SidecarConfigurationError(key: "redis.tls.ca", problem: "needs a rediss:// URL (redis.url is plain redis://)")
            }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw SidecarConfigurationError(key: "redis.tls.ca", problem: "cannot read \(path)")
            }
            configuration.tls = .trusting(caCertificatePath: path, serverName: tls.serverName)
        }
        configuration.clientName = "floodgate-\(guards.instanceID)"
        return configuration
    }

    /// Checks every value; the error names the key.
    public func validate() throws(SidecarConfigurationError) {
        guard (0...65_535).contains(port) else {
            throw SidecarConfigurationError(key: "floodgate.port", problem: "\(port) is not a port (0–65535)")
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace) else {
            throw SidecarConfigurationError(key: "floodgate.host", problem: "must be an address such as 127.0.0.1")
        }
        if let socketPath {
            // sockaddr_un holds 107 bytes and a NUL.
            guard !socketPath.isEmpty, socketPath.utf8.count <= 107 else {
                throw SidecarConfigurationError(key: "floodgate.socket", problem: "must be a path of 1 to 107 bytes")
            }
            let folder = URL(fileURLWithPath: socketPath).deletingLastPathComponent().path
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                throw SidecarConfigurationError(key: "floodgate.socket", problem: "the folder \(folder) does not exist")
            }
            if let type = try? FileManager.default.attributesOfItem(atPath: socketPath)[.type] as? FileAttributeType, type != .typeSocket {
                throw SidecarConfigurationError(key: "floodgate.socket", problem: "\(socketPath) exists and is not a socket")
            }
        }
        if let token, token.count < 16 || token.contains(where: { $0.isWhitespace }) {
            throw SidecarConfigurationError(key: "floodgate.token", problem: "must be at least 16 characters without spaces")
        }
        _ = try redisClientConfiguration()
        guard !integrations.isEmpty else { throw SidecarConfigurationError(key: "floodgate.integrations", problem: "list at least one") }
        if let budgetPerDay, budgetPerDay <= 0 {
            throw SidecarConfigurationError(key: "floodgate.budget", problem: "must be a positive number of commands a day")
        }
        guard permitTimeout >= .seconds(1) else {
            throw SidecarConfigurationError(key: "floodgate.permit.timeout", problem: "must be at least 1s")
        }
        guard (1_024...16 * 1_048_576).contains(bodyLimit) else {
            throw SidecarConfigurationError(key: "floodgate.body.limit", problem: "must be between 1024 and 16777216 bytes")
        }
        do {
            try guards.validate()
        } catch let error as FloodgateError {
            throw SidecarConfigurationError(key: Self.key(ofGuardsField: error.field), problem: error.message)
        } catch {
            throw SidecarConfigurationError(key: nil, problem: "\(error)")
        }
    }
}

