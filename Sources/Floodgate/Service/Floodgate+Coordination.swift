import FloodgateRedis
import Logging

/// The Redis side of decisions: leases of the demand ledger, cedes, concurrency leases, fleet probes. Every failure
/// here marks Redis unhealthy, which switches decisions to what the instance holds (degraded mode) until a heartbeat
/// succeeds.
extension Floodgate {
    /// Asks the ledger for a lease for one policy (or, with `cede`, gives its allowance up for others to lease), or
    /// waits for the request already in flight for it.
    func lease(scope: GuardKey, position: Int, cede: Bool = false, leaving: Bool = false) async {
        guard let fleet else { return }
        guard !coordinationOff else {
            // Switched off (or shedding) since the decision: decide on what is held, send nothing.
            engine.withLock { $0.setHealthy(false) }
            return
        }
        let now = clock.now().nanosecondsSince1970
        let task = engine.withLock { engine -> Task<Void, Never>? in
            let index = engine.index(of: position, in: scope)
            guard let state = engine.scopes[scope], state.guards.indices.contains(index) else { return nil }
            if let pending = state.guards[index].pendingLease { return cede ? nil : pending }
            guard let found = engine.leaseRequest(
                scope: scope, position: position, holder: configuration.instanceID, at: now, cede: cede, leaving: leaving
            ) else {
                // Nothing to ask (no view yet, or the membership is ending): refuse locally for a recovery interval
                // rather than decide again at once.
                engine.refuseLocally(scope: scope, position: position, until: now + configuration.recoveryInterval.nanoseconds)
                return nil
            }
            let ledger = found.ledger
            var request = found.request
            if !cede, engine.mayAskToCede(scope: scope, position: position, at: now) {
                request.cedeChannel = fleet.eventsChannel
                request.cedeMessage = FleetEvent.cedeWanted(scope: scope, index: index).message(from: configuration.instanceID)
            }
            let key = fleet.schema.key(.rateLimit, for: scope) + ":\(index)"
            let task = Task {
                do {
                    let grant = try await ledger.request(request, key: key, via: fleet.client.labelled(.rateLimit))
                    self.engine.withLock {
                        $0.installLease(
                            grant, used: request.used, committedUntil: request.committedUntil, cede: cede,
                            scope: scope, position: position, at: now
                        )
                    }
                } catch {
                    self.coordinationFailed(error, doing: cede ? "a cede for \(scope)" : "a lease for \(scope)")
                    self.engine.withLock {
                        $0.installLease(nil, used: 0, committedUntil: now, cede: cede, scope: scope, position: position, at: now)
                    }
                }
            }
            engine.scopes[scope]?.guards[index].pendingLease = task
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
