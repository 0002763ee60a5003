/// What the keys in memory have spent of what this instance holds, for dashboards.
extension Floodgate {
    /// One policy of one key: what this instance has spent in the current window of what it holds (allowance or lease).
    public struct KeyUsage: Sendable, Hashable {
        public var key: GuardKey
        /// The policy, as configured (`fixed:50/60s`, …).
        public var policy: String
        public var used: Int
        /// What this instance holds of the policy's limit: its allowance or lease (its fixed share in local-only mode).
        public var share: Int
    }

    /// The `count` policies of keys in memory nearest their share on this instance (most spent first), those
    /// with something spent. One pass over the keys under the engine's lock: for a dashboard, not a hot path.
    public func keysNearestTheirShares(_ count: Int = 5) -> [KeyUsage] {
        let now = clock.now().nanosecondsSince1970
        let usages = engine.withLock { engine -> [KeyUsage] in
            var found: [KeyUsage] = []
            for (key, scope) in engine.scopes {
                for (index, policyGuard) in scope.guards.enumerated() where index < scope.template.plans.count {
                    guard let usage = policyGuard.share.usage(at: now), usage.used > 0, usage.limit > 0 else { continue }
                    found.append(KeyUsage(key: key, policy: "\(scope.template.plans[index].policy)", used: usage.used, share: usage.limit))
                }
            }
            return found
        }
        return Array(
            usages.map { (ratio: Double($0.used) / Double($0.share), name: "\($0.key) \($0.policy)", usage: $0) }
                .sorted { ($0.ratio, $1.name) > ($1.ratio, $0.name) }
                .prefix(count)
                .map(\.usage)
        )
    }
}
