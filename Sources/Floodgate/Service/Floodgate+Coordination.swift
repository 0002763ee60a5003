import FloodgateRedis
import Logging

/// The Redis side of decisions: leases of the demand ledger, cedes, concurrency leases, fleet probes. Every failure
/// here marks Redis unhealthy, which switches decisions to what the instance holds (degraded mode) until a heartbeat
/// succeeds.
extension Floodgate {
    /// Asks the ledger for a lease for one policy (or, with `cede`, gives its allowance up for others to lease), or
    /// waits for the request already in flight for it. The engine says what to ask and installs the answer; this
    /// performs the one script call in between.
    func lease(_ policy: PolicyReference, cede: Bool = false, leaving: Bool = false) async {
        guard let fleet else { return }
        guard !coordinationOff else {
            // Switched off (or shedding) since the decision: decide on what is held, send nothing.
            engine.withLock { $0.setHealthy(false) }
            return
        }
        let now = clock.now().nanosecondsSince1970
        let task = engine.withLock { engine -> Task<Void, Never>? in
            guard let state = engine.scopes[policy.scope], state.guards.indices.contains(policy.index) else { return nil }
            if state.guards[policy.index].leaseInFlight { return cede ? nil : leasesInFlight.withLock { $0[policy] } }
            guard let found = engine.leaseRequest(
                for: policy, holder: configuration.instanceID, at: now, cede: cede, leaving: leaving
            ) else {
                // Nothing to ask (no view yet, or the membership is ending): refuse locally for a recovery interval
                // rather than decide again at once.
                engine.refuseLocally(policy, until: now + configuration.recoveryInterval.nanoseconds)
                return nil
            }
            let ledger = found.ledger
            var request = found.request
            if !cede, engine.mayAskToCede(policy, at: now) {
                request.cedeChannel = fleet.eventsChannel
                request.cedeMessage = FleetEvent.cedeAsk(scope: policy.scope, index: policy.index)
            }
            let key = fleet.schema.key(.rateLimit, for: policy)
            let task = Task {
                let grant: DemandLedger.Grant?
                do {
                    grant = try await ledger.request(request, key: key, via: fleet.client.labelled(.rateLimit))
                    if grant?.askedToCede == true { fleet.events.published.add(1, ordering: .relaxed) }
                } catch {
                    self.coordinationFailed(error, doing: cede ? "a cede for \(policy.scope)" : "a lease for \(policy.scope)")
                    grant = nil
                }
                self.engine.withLock {
                    $0.installLease(
                        grant, used: grant == nil ? 0 : request.used,
                        committedUntil: grant == nil ? now : request.committedUntil, cede: cede, for: policy, at: now
                    )
                    _ = self.leasesInFlight.withLock { $0.removeValue(forKey: policy) }
                }
            }
            // Under the engine's lock, so that a caller that sees the request in flight finds its task.
            leasesInFlight.withLock { $0[policy] = task }
            return task
        }
        await task?.value
    }

    /// Takes a lease of the pool of a concurrency policy; nil when the pool is full or Redis failed.
    func concurrencyLease(_ policy: PolicyReference, at now: Int64) async -> String? {
        guard let fleet else { return nil }
        guard !coordinationOff else {
            engine.withLock { $0.setHealthy(false) }
            return nil
        }
        let found = engine.withLock { engine -> (PolicyPlan, String)? in
            guard let state = engine.scopes[policy.scope], state.guards.indices.contains(policy.index) else { return nil }
            engine.leaseCounter += 1
            return (state.template.plans[policy.index], "\(configuration.instanceID):\(engine.leaseCounter)")
        }
        guard let (plan, lease) = found else { return nil }
        do {
            let granted = try await fleet.takeConcurrencyLease(
                key: concurrencyKey(policy),
                lease: lease,
                limit: plan.poolLimit,
                now: now,
                expiresAt: now + plan.window,
                skew: configuration.maximumClockSkew.nanoseconds
            )
            return granted ? lease : nil
        } catch {
            coordinationFailed(error, doing: "a concurrency lease for \(policy.scope)")
            return nil
        }
    }

    func concurrencyKey(_ policy: PolicyReference) -> String {
        fleet?.schema.key(.concurrency, for: policy) ?? ""
    }

    /// Gives back pool concurrency leases taken for a call that was refused after all.
    func releasePoolLeases(_ leases: [PolicyReference: String]) {
        for (policy, lease) in leases { enqueue(.releaseConcurrency(policy, lease: lease)) }
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
