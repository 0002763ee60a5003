/// What a running ``Floodgate`` reports about itself (health checks, dashboards, tests).
public struct FloodgateStatus: Sendable, Hashable {
    /// Shared, degraded (Redis unreachable) or local-only.
    public var mode: Floodgate.Mode
    /// This instance's membership id.
    public var instanceID: String
    /// Members in the last membership view (0 before the first one, and in local-only mode).
    public var fleetMembers: Int
    /// When the last membership view was read.
    public var lastMembershipRead: WallInstant?
    /// Keys (scopes) with state in memory.
    public var keys: Int
    /// Integrations whose breaker is open, half-open or forced open on this instance.
    public var openBreakers: [String]
    /// Tenant connections this instance holds back after a provider's throttle, until when.
    public var backoffs: [GuardKey: WallInstant]
}

extension Floodgate {
    /// A snapshot of this instance's state.
    public var status: FloodgateStatus {
        let mode = self.mode
        let now = clock.now().nanosecondsSince1970
        return engine.withLock { engine in
            var backoffs: [GuardKey: WallInstant] = [:]
            for (key, scope) in engine.scopes {
                if let until = scope.backoff.until, until + scope.backoff.jitter > now {
                    backoffs[key] = WallInstant(nanosecondsSince1970: until + scope.backoff.jitter)
                }
            }
            return FloodgateStatus(
                mode: mode,
                instanceID: configuration.instanceID,
                fleetMembers: engine.view?.members.count ?? 0,
                lastMembershipRead: engine.view.map { WallInstant(nanosecondsSince1970: $0.takenAt) },
                keys: engine.scopes.count,
                openBreakers: engine.breakers.filter { $0.value.machine.state != .closed && $0.value.machine.state != .forcedClosed }
                    .keys.sorted(),
                backoffs: backoffs
            )
        }
    }
}
