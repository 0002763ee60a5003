/// Limits, breakers and shadow mode that change without a restart.
extension Floodgate {
    /// Applies a new configuration's limits, breaker policies and shadow integrations to the running guards, and its
    /// `suspendRedis` to the kill switch.
    ///
    /// A limit's new value applies at once and keeps what the current window has already counted: lowered under
    /// what is spent, the key refuses until the window has passed; raised, the rest of the window may use the
    /// difference. So no window ever admits more than the larger of the two limits, and every window that starts
    /// after the reload (on every instance) the new one. A change of a policy's kind, window, rate or burst, a
    /// policy added or removed, a breaker's window, or any other field (the fleet, the key prefix, timing) needs a
    /// restart and is refused as a whole.
    ///
    /// - Throws: ``FloodgateError`` `.invalidConfiguration` naming the field, and nothing changes.
    public func reload(_ new: FloodgateConfiguration) throws {
        try new.validate()
        let current = configuration
        if let field = current.firstFixedFieldChanged(in: new) {
            throw FloodgateError(.invalidConfiguration, "\(field) cannot change without a restart", field: field)
        }
        for integration in Set(current.profiles.keys).union(new.profiles.keys) {
            let before = current.profiles[integration] ?? current.defaultProfile
            let after = new.profiles[integration] ?? new.defaultProfile
            if !before.hasTheShape(of: after) {
                throw FloodgateError(
                    .invalidConfiguration,
                    "limits.\(integration): only limits can change without a restart (not a policy's kind, window, rate or burst, nor the policies' number)",
                    field: "limits.\(integration)"
                )
            }
        }
        if !current.defaultProfile.hasTheShape(of: new.defaultProfile) {
            throw FloodgateError(.invalidConfiguration, "defaultProfile: only limits can change without a restart", field: "defaultProfile")
        }
        for integration in Set(current.breakers.keys).union(new.breakers.keys)
        where current.breakerPolicy(for: integration).window != new.breakerPolicy(for: integration).window {
            throw FloodgateError(.invalidConfiguration, "breakers.\(integration): its window cannot change without a restart", field: "breakers.\(integration)")
        }
        if current.defaultBreaker.window != new.defaultBreaker.window {
            throw FloodgateError(.invalidConfiguration, "defaultBreaker: its window cannot change without a restart", field: "defaultBreaker")
        }
        configurationInForce.withLock { $0 = new }
        engine.withLock { $0.reconfigure(new) }
        setRedisEnabled(!new.suspendRedis)
        logger.notice("configuration reloaded: limits, breakers and shadow mode")
    }
}

extension FloodgateConfiguration {
    /// The first field other than limits, breaker policies, shadow integrations and `suspendRedis` that differs.
    package func firstFixedFieldChanged(in new: FloodgateConfiguration) -> String? {
        let fields: [(String, Bool)] = [
            ("instanceID", instanceID == new.instanceID),
            ("keyPrefix", keyPrefix == new.keyPrefix),
            ("fleetSize", fleetSize == new.fleetSize),
            ("instanceIndex", instanceIndex == new.instanceIndex),
            ("shareFraction", shareFraction == new.shareFraction),
            ("maximumClockSkew", maximumClockSkew == new.maximumClockSkew),
            ("heartbeatInterval", heartbeatInterval == new.heartbeatInterval),
            ("membershipTTL", membershipTTL == new.membershipTTL),
            ("breakerReportInterval", breakerReportInterval == new.breakerReportInterval),
            ("breakerReportFraction", breakerReportFraction == new.breakerReportFraction),
            ("backoffJitter", backoffJitter == new.backoffJitter),
            ("defaultRetryAfter", defaultRetryAfter == new.defaultRetryAfter),
            ("recoveryInterval", recoveryInterval == new.recoveryInterval),
            ("idleKeyTimeout", idleKeyTimeout == new.idleKeyTimeout),
            ("randomSeed", randomSeed == new.randomSeed),
        ]
        return fields.first { !$0.1 }?.0
    }
}

extension ProviderProfile {
    /// Whether `other` has the same policies in the same order, differing in their limits only.
    func hasTheShape(of other: ProviderProfile) -> Bool {
        func same(_ a: [RateLimitPolicy], _ b: [RateLimitPolicy]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { $0.hasTheShape(of: $1) }
        }
        guard same(connectionLimits, other.connectionLimits), same(defaultOperationLimits, other.defaultOperationLimits),
            Set(operationLimits.keys) == Set(other.operationLimits.keys)
        else { return false }
        return operationLimits.allSatisfy { same($0.value, other.operationLimits[$0.key] ?? []) }
    }
}

extension RateLimitPolicy {
    /// The same kind and window (or lease timeout); a token bucket the same in every parameter.
    func hasTheShape(of other: RateLimitPolicy) -> Bool {
        switch (self, other) {
        case (.fixedWindow(_, let a), .fixedWindow(_, let b)), (.rollingWindow(_, let a), .rollingWindow(_, let b)):
            return a == b
        case (.concurrency(_, let a), .concurrency(_, let b)):
            return a == b
        case (.tokenBucket, .tokenBucket):
            return self == other
        default:
            return false
        }
    }
}
