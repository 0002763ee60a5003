import Configuration

extension FloodgateConfiguration {
    /// Reads the deployment settings from a configuration source (environment variables by their upper-cased
    /// names: `SUSPEND_REDIS`, `FLEET_SIZE`, `INSTANCE_INDEX`, `INSTANCE_ID`, `KEY_PREFIX`, `SHARE_FRACTION`,
    /// `FALLBACK`); profiles
    /// and breakers stay as given.
    public init(
        config: ConfigReader,
        profiles: [String: ProviderProfile] = [:],
        breakers: [String: BreakerPolicy] = [:]
    ) {
        self.init(profiles: profiles, breakers: breakers)
        suspendRedis = config.bool(forKey: "suspend.redis", default: false)
        fleetSize = config.int(forKey: "fleet.size", default: fleetSize)
        instanceIndex = config.int(forKey: "instance.index", default: instanceIndex)
        instanceID = config.string(forKey: "instance.id", default: instanceID)
        keyPrefix = config.string(forKey: "key.prefix", default: keyPrefix)
        shareFraction = config.double(forKey: "share.fraction", default: shareFraction)
        if let text = config.string(forKey: "fallback"), let value = Fallback(rawValue: text) { fallback = value }
    }
}
