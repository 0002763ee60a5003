import FloodgateRedis
import Logging

/// The Redis side of decisions: pool grants, concurrency leases, fleet probes. Every failure here marks Redis
/// unhealthy, which switches decisions to what the instance holds (degraded mode) until a heartbeat succeeds.
extension Floodgate {
    /// Asks the pool for a grant for one policy, or waits for the request already in flight for it.
    func grant(scope: GuardKey, position: Int, startSlot: Int64) async {
        guard let fleet else { return }
        guard !coordinationOff else {
            // Switched off (or shedding) since the decision: decide on what is held, send nothing.
            engine.withLock { $0.setHealthy(false) }
            return
        }
        let task = engine.withLock { engine -> Task<Void, Never>? in
            let index = engine.index(of: position, in: scope)
            guard let state = engine.scopes[scope], state.guards.indices.contains(index) else { return nil }
            if let pending = state.guards[index].pendingGrant { return pending }
            let plan = state.template.plans[index]
            guard let ledger = plan.ledger else { return nil }
            let key = fleet.schema.key(.rateLimit, for: scope) + ":\(index)"
            let size = engine.scopes[scope]!.guards[index].holder.nextGrantSize(
                base: plan.grantSize,
                maximum: plan.maximumGrantSize,
                startSlot: startSlot,
                under: ledger
            )
            let task = Task {
                do {
                    let granted = try await ledger.requestGrant(
                        size,
                        key: key,
                        startSlot: startSlot,
                        via: fleet.client.labelled(.rateLimit)
                    )
                    self.engine.withLock { $0.installGrant(granted, scope: scope, position: position, startSlot: startSlot) }
                } catch {
                    self.coordinationFailed(error, doing: "a grant for \(scope)")
                    self.engine.withLock { $0.installGrant(nil, scope: scope, position: position, startSlot: startSlot) }
                }
            }
            engine.scopes[scope]?.guards[index].pendingGrant = task
            return task
        }
        await task?.value
    }

    /// Takes a lease of the pool of a concurrency policy; nil when the pool is full or Redis failed.
    func concurrencyLease(scope: GuardKey, position: Int, at now: Int64) async -> String? {
        guard let fleet else { return nil }
        guard !coordinationOff else {
            engine.withLock { $0.setHealthy(false) }
            return nil
        }
        let found = engine.withLock { engine -> (PolicyPlan, Int, String)? in
            let index = engine.index(of: position, in: scope)
            guard let state = engine.scopes[scope], state.guards.indices.contains(index) else { return nil }
            engine.leaseCounter += 1
            return (state.template.plans[index], index, "\(configuration.instanceID):\(engine.leaseCounter)")
        }
        guard let (plan, index, lease) = found else { return nil }
        do {
            let granted = try await fleet.takeConcurrencyLease(
                key: concurrencyKey(scope, index: index),
                lease: lease,
                limit: plan.poolLimit,
                now: now,
                expiresAt: now + plan.window,
                skew: configuration.maximumClockSkew.nanoseconds
            )
            return granted ? lease : nil
        } catch {
            coordinationFailed(error, doing: "a concurrency lease for \(scope)")
            return nil
        }
    }

    func concurrencyKey(_ scope: GuardKey, index: Int) -> String {
        (fleet?.schema.key(.concurrency, for: scope) ?? "") + ":\(index)"
    }

    /// Gives back pool concurrency leases taken for a call that was refused after all.
    func releasePoolLeases(_ leases: [Int: String], key: GuardKey) {
        guard !leases.isEmpty else { return }
        let connectionCount = engine.withLock { $0.scopes[key.connection]?.guards.count ?? 0 }
        for (position, lease) in leases {
            let scope = position < connectionCount ? key.connection : key
            workSink.yield(.releaseConcurrency(scope: scope, position: position, lease: lease))
        }
    }

    /// Whether the fleet lets this half-open probe out (one of the breaker's `halfOpenProbes` per open period).
    /// When Redis fails, the probe goes out on local evidence alone.
    func fleetProbeGranted(_ permit: FloodgatePermit, epoch: Int64) async -> Bool {
        guard let fleet else { return true }
        let policy = configuration.breakerPolicy(for: permit.key.integration)
        do {
            return try await fleet.takeProbe(
                key: fleet.schema.integrationKey(.breaker, for: permit.key),
                epoch: epoch,
                probes: policy.halfOpenProbes
            )
        } catch {
            coordinationFailed(error, doing: "a half-open probe")
            return true
        }
    }

    /// Marks Redis unhealthy after a failed coordination command (logged once per outage).
    func coordinationFailed(_ error: any Error, doing what: String) {
        let wasHealthy = engine.withLock { engine -> Bool in
            defer { engine.setHealthy(false) }
            return engine.healthy
        }
        if wasHealthy {
            logger.warning(
                "Redis unavailable: deciding on local shares and held grants until it answers again",
                metadata: ["while": "\(what)", "error": "\(error)"]
            )
        }
    }
}
