import FloodgateRedis
import Logging
import ServiceLifecycle

/// The background work of a running Floodgate: membership, the fleet's events, breaker evidence, Redis side effects
/// of outcomes, and eviction of idle keys.
extension Floodgate {
    /// Runs until graceful shutdown (or cancellation); then sends the Redis work outcomes left behind (releasing
    /// concurrency leases of calls recorded up to then), hands its leases back, and leaves the fleet (its allowance
    /// stays counted by the others while its calls can still lie in a window).
    public func run() async throws {
        let joinedAt = JoinRecord()
        await withDiscardingTaskGroup { outer in
            // Not stopped by graceful shutdown: it ends when the sink finishes, after the last item.
            if let fleet = self.fleet { outer.addTask { await self.workLoop(fleet) } }
            await cancelWhenGracefulShutdown {
                await withDiscardingTaskGroup { group in
                    group.addTask { await self.evictionLoop() }
                    guard let fleet = self.fleet else { return }
                    group.addTask { await self.membershipLoop(fleet, joined: joinedAt) }
                    group.addTask { await self.eventLoop(fleet) }
                    group.addTask { await self.breakerReportTicks() }
                }
            }
            workSink.finish()
        }
        breakerEventHub.finish()
        if let fleet, let joined = joinedAt.value {
            // Hand what this instance held over to the fleet: its entries keep only what it spent.
            let handOver = engine.withLock { $0.handOverCandidates(at: clock.now().nanosecondsSince1970) }
            for policy in handOver { await lease(policy, cede: true, leaving: true) }
            let now = clock.now().nanosecondsSince1970
            _ = try? await fleet.heartbeat(joinedAt: joined, renewUntil: now, now: now, retention: retention, collect: false)
        }
    }

    /// When this instance joined, once a heartbeat has recorded it.
    final class JoinRecord: @unchecked Sendable {
        // Written and read only by the membership loop, then read after it ended.
        var value: Int64?
    }

    /// How long departed members stay in the membership set: as long as any policy can still count them.
    var retention: Int64 {
        let windows = ([configuration.defaultProfile] + Array(configuration.profiles.values)).flatMap { profile in
            profile.connectionLimits + profile.defaultOperationLimits + profile.operationLimits.values.flatMap { $0 }
        }.map { PolicyPlan($0, fleetSize: 1, shareFraction: 1, skew: .zero).window }
        return (windows.max() ?? 0) + configuration.membershipTTL.nanoseconds + configuration.maximumClockSkew.nanoseconds
    }

    // MARK: Membership

    /// Reads the fleet's membership every heartbeat, and renews this instance's once half of its TTL or less is left
    /// (so a `ZADD` every third heartbeat with the defaults, not every one), after an outage, and whenever the fleet's
    /// record of it is not the one last written (Redis lost it); while Redis is unhealthy, tries every recovery
    /// interval (an attempt on a disconnected client sends nothing). The first view after an outage keeps the last
    /// one's counts as a floor (see ``MembershipView``), and the fleet's state is read again.
    func membershipLoop(_ fleet: FleetRedis, joined: JoinRecord) async {
        let heartbeat = configuration.heartbeatInterval.nanoseconds
        let ttl = configuration.membershipTTL.nanoseconds
        let retention = self.retention
        var nextHeartbeat = Int64.min
        var beats = 0
        /// The expiry the last renewal wrote, in the fleet's millisecond precision.
        var renewedUntil: Int64?
        /// The expiry a renewal at `time` writes, as the fleet will record it.
        func expiry(renewedAt time: Int64) -> Int64 { (time + ttl) / 1_000_000 * 1_000_000 }
        while !Task.isCancelled {
            let now = clock.now().nanosecondsSince1970
            if coordinationOff {
                // The kill switch, or the command budget shedding coordination: local shares only, not even heartbeats.
                engine.withLock { $0.setHealthy(false) }
                do {
                    try await clock.sleep(until: WallInstant(nanosecondsSince1970: now + configuration.recoveryInterval.nanoseconds))
                } catch {
                    return
                }
                continue
            }
            let healthy = engine.withLock { $0.healthy }
            if !healthy || now >= nextHeartbeat {
                do {
                    var joinedAt = joined.value ?? now
                    if !healthy || joined.value == nil || renewedUntil.map({ $0 - now <= ttl / 2 }) ?? true { renewedUntil = nil }
                    var renewal = renewedUntil == nil ? expiry(renewedAt: now) : nil
                    var members = try await fleet.heartbeat(
                        joinedAt: joinedAt,
                        renewUntil: renewal,
                        now: now,
                        retention: retention,
                        collect: beats % 10 == 0
                    )
                    let recorded = members.first { $0.id == configuration.instanceID }?.expiresAt
                    if renewal == nil, recorded != renewedUntil {
                        // The fleet lost this member's entry (a flush, a failover): write it again at once.
                        renewal = expiry(renewedAt: now)
                        members = try await fleet.heartbeat(
                            joinedAt: joinedAt, renewUntil: renewal, now: now, retention: retention, collect: false
                        )
                    }
                    if let renewal { renewedUntil = renewal }
                    // A joiner's wait counts from when the others can see it: if its first `ZADD` took longer than
                    // half the skew bound to be answered, it joins again stamped with the answer's time (which is after
                    // the `ZADD` ran), so no member can have missed it for longer than its wait allows.
                    let answered = clock.now().nanosecondsSince1970
                    if joined.value == nil, answered - joinedAt > configuration.maximumClockSkew.nanoseconds / 2 {
                        renewedUntil = expiry(renewedAt: answered)
                        members = try await fleet.heartbeat(
                            joinedAt: answered,
                            renewUntil: renewedUntil,
                            now: answered,
                            retention: retention,
                            collect: false,
                            replacing: joinedAt
                        )
                        joinedAt = answered
                    }
                    joined.value = joinedAt
                    beats += 1
                    if coordinationOff {
                        // Switched off while the heartbeat was on its way: do not become healthy again.
                        engine.withLock { $0.setHealthy(false) }
                        continue
                    }
                    let recovered = engine.withLock { engine -> Bool in
                        let recovering = !engine.healthy && engine.view != nil
                        let view = MembershipView(
                            members: members,
                            takenAt: now,
                            selfID: configuration.instanceID,
                            previous: recovering ? engine.view : nil,
                            floorFor: heartbeat + configuration.maximumClockSkew.nanoseconds
                        )
                        engine.install(view: view)
                        return recovering
                    }
                    if recovered {
                        logger.notice("Redis answers again: back to shared mode")
                        await resynchronize(fleet)
                    }
                    nextHeartbeat = now + heartbeat
                } catch {
                    coordinationFailed(error, doing: "a membership heartbeat")
                }
            }
            // Awake at least every recovery interval, also when healthy, to notice the budget's shedding or the switch.
            let recheck = now + configuration.recoveryInterval.nanoseconds
            let wake = engine.withLock { $0.healthy } ? min(nextHeartbeat, recheck) : recheck
            do {
                try await clock.sleep(until: WallInstant(nanosecondsSince1970: max(wake, now + 1)))
            } catch {
                return
            }
        }
    }

    // MARK: Events

    /// Listens to the fleet's channel and applies other instances' events; after (re)subscribing, reads the state
    /// hash so nothing published meanwhile is missed.
    func eventLoop(_ fleet: FleetRedis) async {
        while !Task.isCancelled {
            if !redisSwitch.isOn {
                // Not even a SUBSCRIBE while the switch is off.
                do { try await clock.sleep(until: clock.now().advanced(by: configuration.recoveryInterval)) } catch { return }
                continue
            }
            do {
                let subscription = try await fleet.client.subscribe(to: [fleet.eventsChannel], component: .breaker)
                await resynchronize(fleet)
                for await event in subscription {
                    switch event {
                    case .message(let message):
                        fleet.events.heard.add(1, ordering: .relaxed)
                        guard let (fleetEvent, origin) = FleetEvent.parse(message.text),
                            origin != configuration.instanceID
                        else { continue }
                        let now = clock.now().nanosecondsSince1970
                        applyFleetEvent(fleetEvent, at: now)
                    case .reconnected:
                        await resynchronize(fleet)
                    }
                }
                return  // the subscription ends only when the client shuts down
            } catch {
                do {
                    try await clock.sleep(until: clock.now().advanced(by: configuration.recoveryInterval))
                } catch {
                    return
                }
            }
        }
    }

    /// Applies the breakers and back-offs in force, as the fleet's state hash records them (one `HGETALL`).
    func resynchronize(_ fleet: FleetRedis) async {
        guard !coordinationOff else { return }
        do {
            let events = try await fleet.currentEvents(component: .breaker)
            let now = clock.now().nanosecondsSince1970
            for event in events { applyFleetEvent(event, at: now) }
            engine.withLock { $0.fleetStateRead = true }
        } catch {
            coordinationFailed(error, doing: "reading the fleet's state")
        }
    }

    // MARK: Side effects

    /// Hands `item` to the work loop.
    func enqueue(_ item: FleetWork) {
        workPending.add(1, ordering: .relaxed)
        workSink.yield(item)
    }

    /// Whether Redis work this instance started is still on its way: outcomes' side effects, breaker reports, lease
    /// requests. The simulator waits for none before its next call, so that a replay does not depend on how fast they
    /// ran.
    package var hasWorkInFlight: Bool {
        workPending.load(ordering: .acquiring) > 0 || !leasesInFlight.withLock { $0.isEmpty }
    }

    /// Messages this instance put on the fleet's channel, and messages it heard there (its own included).
    package var fleetMessages: (published: Int, heard: Int) {
        guard let fleet else { return (0, 0) }
        return (fleet.events.published.load(ordering: .acquiring), fleet.events.heard.load(ordering: .acquiring))
    }

    /// Does the Redis work outcomes leave behind: publishing events, releasing leases, counting probes.
    func workLoop(_ fleet: FleetRedis) async {
        for await item in work {
            defer { workPending.subtract(1, ordering: .releasing) }
            if coordinationOff { continue }  // switched off or shedding: the fleet learns nothing from us
            do {
                switch item {
                case .publish(let event):
                    let now = clock.now().nanosecondsSince1970
                    let keepFor: Int64
                    switch event {
                    case .breakerOpened(_, let until), .backoff(_, _, let until): keepFor = until - now
                    case .breakerClosed, .breakerForced: keepFor = 86_400_000_000_000
                    case .cedeWanted: continue
                    }
                    let component: RedisComponent
                    if case .backoff = event { component = .backoff } else { component = .breaker }
                    try await fleet.publish(event, keepFor: max(1_000_000_000, keepFor), component: component)
                case .reportBreaker(let integration, let evidence):
                    do {
                        try await reportBreaker(integration, evidence, fleet)
                    } catch {
                        coordinationFailed(error, doing: "reporting breaker evidence")
                    }
                case .cede(let policy, let shrink):
                    await lease(policy, cede: !shrink)
                case .releaseConcurrency(let policy, let lease):
                    try await fleet.releaseConcurrencyLease(key: concurrencyKey(policy), lease: lease)
                case .probeSucceeded(let integration, let epoch):
                    let policy = configuration.breakerPolicy(for: integration)
                    if try await fleet.probeSucceeded(
                        key: fleet.schema.integrationKey(.breaker, integration: integration),
                        epoch: epoch,
                        probes: policy.halfOpenProbes
                    ) {
                        let now = clock.now().nanosecondsSince1970
                        let event = FleetEvent.breakerClosed(integration: integration)
                        applyFleetEvent(event, at: now)
                        try await fleet.publish(event, keepFor: 1_000_000_000, component: .breaker)
                    }
                }
            } catch {
                coordinationFailed(error, doing: "publishing to the fleet")
            }
        }
    }

    // MARK: Breaker evidence

    /// Every report interval, hands the work loop the breaker evidence that the interval held back.
    func breakerReportTicks() async {
        while !Task.isCancelled {
            do {
                try await clock.sleep(until: clock.now().advanced(by: configuration.breakerReportInterval))
            } catch {
                return
            }
            let now = clock.now().nanosecondsSince1970
            for report in engine.withLock({ $0.breakerReportsDue(at: now) }) { enqueue(report) }
        }
    }

    /// Adds this instance's breaker evidence to the fleet's and opens the breaker everywhere when the sums trip it.
    func reportBreaker(_ integration: String, _ evidence: BreakerEvidence, _ fleet: FleetRedis) async throws {
        guard engine.withLock({ $0.healthy }) else { return }
        let now = clock.now().nanosecondsSince1970
        let policy = configuration.breakerPolicy(for: integration)
        let fleetEvidence = try await fleet.reportBreaker(
            key: fleet.schema.integrationKey(.breaker, integration: integration),
            evidence: evidence,
            now: now,
            window: policy.reportWindow
        )
        guard policy.trips(on: fleetEvidence) else { return }
        let until = now + policy.openDuration.nanoseconds
        guard let opened = engine.withLock({ $0.breaker(integration).machine.open(until: until) }) else { return }
        emitBreakerChange(integration, opened, at: now)
        logger.notice(
            "breaker opened on the fleet's evidence",
            metadata: [
                "integration": "\(integration)", "calls": "\(fleetEvidence.window.calls)",
                "failures": "\(fleetEvidence.window.failures)", "failuresInARow": "\(fleetEvidence.failureRun)",
            ]
        )
        try await fleet.publish(.breakerOpened(integration: integration, until: until), keepFor: until - now, component: .breaker)
    }

    // MARK: Eviction

    /// Drops idle keys every quarter of the idle timeout.
    func evictionLoop() async {
        while !Task.isCancelled {
            do {
                try await clock.sleep(until: clock.now().advanced(by: configuration.idleKeyTimeout / 4))
            } catch {
                return
            }
            let now = clock.now().nanosecondsSince1970
            let evicted = engine.withLock { $0.evictIdle(at: now) }
            if evicted > 0 { logger.debug("evicted idle keys", metadata: ["count": "\(evicted)"]) }
        }
    }
}

extension BreakerPolicy {
    /// How long a reported window counts in the fleet's sums: the time window, or a minute for count windows.
    var reportWindow: Int64 {
        switch window {
        case .time(let duration, _): return duration.nanoseconds
        case .count: return 60_000_000_000
        }
    }
}
