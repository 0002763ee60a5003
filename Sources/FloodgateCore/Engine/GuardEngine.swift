/// All of one instance's guard state and its decisions, as pure synchronous code on caller-supplied times: limits
/// per scope, breakers per integration, back-offs per tenant connection, the membership view. ``Floodgate`` keeps
/// it behind one mutex and does the Redis work its decisions ask for.
package struct GuardEngine: Sendable {
    /// What the engine needs of the configuration, resolved once (a class: decisions copy a reference, not a
    /// configuration full of dictionaries).
    package final class Settings: Sendable {
        package let configuration: FloodgateConfiguration
        /// Local-only mode: fixed index-based shares, no pool, no Redis.
        package let localOnly: Bool
        package let skew: Int64
        package let heartbeat: Int64
        package let idleTimeout: Int64
        package let jitter: Int64

        package init(configuration: FloodgateConfiguration, localOnly: Bool, skew: Int64, heartbeat: Int64, idleTimeout: Int64, jitter: Int64) {
            self.configuration = configuration
            self.localOnly = localOnly
            self.skew = skew
            self.heartbeat = heartbeat
            self.idleTimeout = idleTimeout
            self.jitter = jitter
        }

        /// The instance's fixed share of a count in local-only mode: `⌊L/N⌋`, plus one for the first `L mod N`.
        package func localShare(_ limit: Int) -> Int {
            let size = configuration.fleetSize
            return limit / size + (configuration.instanceIndex < limit % size ? 1 : 0)
        }

        /// The plans of a scope's policies, shared by every key of the same integration and operation.
        package func makeTemplate(_ key: GuardKey) -> ScopeTemplate {
            let policies = (configuration.profiles[key.integration] ?? configuration.defaultProfile).scopeLimits(for: key)
            let plans = policies.map {
                PolicyPlan($0, fleetSize: configuration.fleetSize, shareFraction: configuration.shareFraction, skew: .nanoseconds(skew))
            }
            return ScopeTemplate(plans: plans, keepFor: (plans.map(\.window).max() ?? 0) + skew)
        }

        package func makeScope(template: ScopeTemplate, at now: Int64, breaker: BreakerBox?) -> Scope {
            let fixedShare: ((Int) -> Int)? = localOnly ? { limit in self.localShare(limit) } : nil
            let guards = template.plans.map { PolicyGuard(share: $0.makeShareCounter(localShare: fixedShare)) }
            return Scope(template: template, guards: guards, breaker: breaker, lastUsed: now)
        }
    }

    /// What every scope of one integration and operation shares: its policies' plans. A class, so the per-key state
    /// (the hot working set) holds one reference instead of a copy of every plan.
    package final class ScopeTemplate: Sendable {
        package let plans: [PolicyPlan]
        /// How long a scope's counts matter after its last use: its longest window plus the skew bound.
        package let keepFor: Int64

        package init(plans: [PolicyPlan], keepFor: Int64) {
            self.plans = plans
            self.keepFor = keepFor
        }
    }

    /// The guards of one scope: a tenant connection (with its back-off) or one operation of it.
    package struct Scope: Sendable {
        package var template: ScopeTemplate
        /// The mutable state of each policy, in the template's order.
        package var guards: [PolicyGuard]
        /// The integration's breaker (connection scopes only), shared by all of its scopes.
        package let breaker: BreakerBox?
        package var backoff = ProviderBackoff()
        package var lastUsed: Int64
        /// The membership epoch its shares were computed at, and when they must be computed again.
        package var epoch = -1
        package var recheckAt: Int64 = .max

        package var isIdle: Bool {
            guards.allSatisfy { $0.share.inFlight == 0 && !$0.leaseInFlight } && backoff.until == nil
        }
    }

    package struct PolicyGuard: Sendable {
        /// This instance's calls, limited by its allowance or its lease.
        package var share: ShareCounter
        /// The allowance membership gives (or the fallback's share), used whenever no lease is in force.
        package var allowance = 0
        package var lease = DemandLease()
        /// When the counter's limit must be set again (the lease ends).
        package var limitUntil: Int64 = .max
        /// A lease request (or cede) for this policy is on its way: the driver performs one at a time per policy.
        package var leaseInFlight = false

        /// Sets the counter's limit for `now` from the lease or the allowance.
        package mutating func applyLimit(at now: Int64, plan: PolicyPlan) {
            let limit = lease.limit(allowance: allowance, at: now)
            var next: Int? = nil
            if plan.kind == .fixed, let ledger = plan.ledger {
                let windowEnd = (now.floorDivided(by: plan.window) + 1) * plan.window
                next = lease.nextLimit(allowance: allowance, windowEnd: windowEnd, ledger: ledger, at: now)
                // The next window's limit is known only up to its start: look again then.
                limitUntil = min(lease.limitChange(after: now), windowEnd)
            } else {
                limitUntil = lease.limitChange(after: now)
            }
            share.setLimit(limit, next: next)
        }
    }

    /// One integration's breaker. A class so that scopes and permits reach it without a lookup; it is only ever
    /// read or changed under the engine's lock.
    package final class BreakerBox: @unchecked Sendable {
        // Only ever accessed under the engine's lock, which already excludes overlapping access: no dynamic checks.
        @exclusivity(unchecked) package var machine: BreakerStateMachine

        package init(policy: BreakerPolicy) { machine = BreakerStateMachine(policy: policy) }
    }

    /// What the membership view says, copied out for share computations.
    package struct ShareContext {
        package let healthy: Bool
        package let epoch: Int
        /// Switched off by the kill switch: decide on the local-only share.
        package let switchedOff: Bool
    }

    /// The answer to one step of a decision.
    package enum Step: Sendable {
        case allowed(FloodgatePermit, needsFleetProbe: Bool)
        case refused(FloodgateError)
        /// The ledger must be asked for a lease for this policy, then the decision retried.
        case needsLease(PolicyReference)
        /// The pool must be asked for a concurrency lease for this policy, then the decision retried.
        case needsConcurrencyLease(PolicyReference)
    }

    package private(set) var settings: Settings
    package var scopes: [GuardKey: Scope] = [:]
    package var breakers: [String: BreakerBox] = [:]
    /// Plans per integration and operation (`integration NUL operation`).
    package var templates: [String: ScopeTemplate] = [:]
    package var view: MembershipView?
    /// Whether Redis answered the last coordination command (fleet mode only).
    package var healthy = false
    /// Whether the fleet's state hash (breakers, back-offs in force) has been read since start: until then this
    /// instance may not know of a back-off the fleet holds, so it does not report itself `shared`.
    package var fleetStateRead = false
    /// Bumped whenever the view or health changes, so scopes recompute their shares.
    package var epoch = 0
    package var generator: SeededGenerator
    package var leaseCounter = 0
    /// The kill switch is off: allowances fall back to the local-only share, nothing is asked of Redis.
    package var switchedOff = false

    package init(settings: Settings) {
        self.settings = settings
        self.generator = SeededGenerator(seed: settings.configuration.randomSeed ?? UInt64.random(in: 0...UInt64.max))
    }

    // MARK: Deciding

    /// Decides a call on `key` at `now`. `preHeld` are pool concurrency leases already taken for this call, by
    /// policy. With `limitsOnly` (the further units of a weighted
    /// call) only the limits are checked and taken: the back-off and the breaker admitted the call's first unit.
    package mutating func decide(
        _ key: GuardKey,
        at now: Int64,
        preHeld: [PolicyReference: String],
        limitsOnly: Bool = false,
        switchedOff: Bool = false
    ) -> Step {
        if switchedOff != self.switchedOff {
            self.switchedOff = switchedOff
            if switchedOff {
                // The operator's choice: the local-only share, whatever was leased or committed.
                healthy = false
                for key in Array(scopes.keys) {
                    for index in scopes[key]!.guards.indices { scopes[key]!.guards[index].lease = DemandLease() }
                }
            }
            epoch += 1
        }
        let decision = Decision(
            key: key, now: now, settings: settings, preHeld: preHeld, limitsOnly: limitsOnly,
            context: ShareContext(healthy: healthy, epoch: epoch, switchedOff: switchedOff)
        )
        let connection = key.connection
        var taken = Taken()
        // One lookup for the tenant connection (its back-off, its breaker, its limits), one for the operation.
        let connectionIndex = scopeIndex(connection, at: now)
        Self.refreshShares(&scopes.values[connectionIndex], at: now, settings: settings, context: decision.context, view: view)
        var refusal = Self.admitConnection(&scopes.values[connectionIndex], for: decision, into: &taken)
        if case .none = refusal, key.operation != nil {
            let operationIndex = scopeIndex(key, at: now)
            Self.refreshShares(&scopes.values[operationIndex], at: now, settings: settings, context: decision.context, view: view)
            refusal = Self.take(&scopes.values[operationIndex], of: key, for: decision, into: &taken)
            if case .some = refusal, let index = scopes.index(forKey: connection) {
                Self.undo(&scopes.values[index], key: connection, count: scopes.values[index].guards.count, preHeld: preHeld, at: now)
                if taken.probe != nil { taken.breaker?.machine.cancelProbe() }
            }
        }
        if let refusal { return refusal }
        let permit = FloodgatePermit(
            key: key,
            acquiredAt: WallInstant(nanosecondsSince1970: now),
            probeEpoch: taken.probe,
            concurrency: taken.holds,
            breaker: taken.breaker
        )
        return .allowed(permit, needsFleetProbe: taken.probe != nil && !settings.localOnly && decision.context.healthy)
    }

    /// One decision's inputs, handed down its checks as one value.
    private struct Decision {
        let key: GuardKey
        let now: Int64
        let settings: Settings
        let preHeld: [PolicyReference: String]
        /// Only the limits (a weighted call's further units): the first unit passed the back-off and the breaker.
        let limitsOnly: Bool
        let context: ShareContext
    }

    /// What a decision has taken so far: concurrency permits, a half-open probe, the breaker the outcome feeds.
    private struct Taken {
        var holds: [ConcurrencyHold] = []
        var probe: Int64? = nil
        var breaker: BreakerBox? = nil
    }

    /// The index of a scope's state, made on first use (inserting can move other scopes: take indices afresh).
    private mutating func scopeIndex(_ key: GuardKey, at now: Int64) -> Dictionary<GuardKey, Scope>.Index {
        if let index = scopes.index(forKey: key) { return index }
        scopes[key] = makeScope(key, at: now)
        return scopes.index(forKey: key)!
    }

    /// The connection scope's checks in order: the provider's back-off (free, spends nothing), the breaker (so a
    /// refused call spends no window permit), then the connection's limits.
    private static func admitConnection(_ scope: inout Scope, for decision: Decision, into taken: inout Taken) -> Step? {
        let (key, now) = (decision.key, decision.now)
        taken.breaker = decision.limitsOnly ? nil : scope.breaker
        if decision.limitsOnly { return take(&scope, of: key.connection, for: decision, into: &taken) }
        if case .refused(let until) = scope.backoff.admit(at: now) {
            return .refused(
                FloodgateError(
                    .providerBackoff,
                    "the provider asked to back off \(key.connection)",
                    retryAt: WallInstant(nanosecondsSince1970: until)
                )
            )
        }
        if let breaker = scope.breaker {
            switch breaker.machine.admit(at: now) {
            case .allowed:
                break
            case .probe:
                taken.probe = breaker.machine.probeEpoch ?? now
            case .refused(let until):
                return .refused(
                    FloodgateError(
                        .breakerOpen,
                        "the breaker of \(key.integration) is open",
                        retryAt: until == .max ? nil : WallInstant(nanosecondsSince1970: until)
                    )
                )
            }
        }
        let refusal = take(&scope, of: key.connection, for: decision, into: &taken)
        if case .some = refusal, taken.probe != nil { scope.breaker?.machine.cancelProbe() }
        return refusal
    }

    /// A new scope; a connection scope gets its integration's breaker.
    private mutating func makeScope(_ key: GuardKey, at now: Int64) -> Scope {
        let name = key.integration + "\u{0}" + (key.operation ?? "")
        let template: ScopeTemplate
        if let known = templates[name] {
            template = known
        } else {
            template = settings.makeTemplate(key)
            templates[name] = template
        }
        return settings.makeScope(template: template, at: now, breaker: key.operation == nil ? breaker(key.integration) : nil)
    }

    /// The breaker of an integration, made on first use.
    package mutating func breaker(_ integration: String) -> BreakerBox {
        if let box = breakers[integration] { return box }
        let box = BreakerBox(policy: settings.configuration.breakerPolicy(for: integration))
        breakers[integration] = box
        return box
    }

    /// Takes a permit of every policy of one scope; on a refusal gives back what it took and says why.
    private static func take(_ scope: inout Scope, of key: GuardKey, for decision: Decision, into taken: inout Taken) -> Step? {
        let (now, settings, context, preHeld) = (decision.now, decision.settings, decision.context, decision.preHeld)
        scope.lastUsed = now
        let coordinated = !settings.localOnly && context.healthy && !context.switchedOff
        for index in scope.guards.indices {
            // Named only where an effect or a hold needs it: the common path builds no reference.
            var policy: PolicyReference { PolicyReference(scope: key, index: index) }
            let plan = scope.template.plans[index]
            if plan.kind == .concurrency, let lease = preHeld[policy] {
                taken.holds.append(ConcurrencyHold(policy: policy, poolLease: lease))
                continue
            }
            if plan.ledger != nil, !settings.localOnly {
                scope.guards[index].lease.offer(at: now, window: plan.window)
                if now >= scope.guards[index].limitUntil { scope.guards[index].applyLimit(at: now, plan: plan) }
            }
            let shareDecision = scope.guards[index].share.tryAcquire(at: now)
            if case .allowed = shareDecision {
                if plan.kind == .concurrency { taken.holds.append(ConcurrencyHold(policy: policy, poolLease: nil)) }
                continue
            }
            func refusal(_ retryAt: Int64?) -> Step {
                undo(&scope, key: key, count: index, preHeld: preHeld, at: now)
                return .refused(
                    FloodgateError(
                        .rateLimited,
                        "\(key): limit \(plan.policy) is used up",
                        retryAt: retryAt.map { WallInstant(nanosecondsSince1970: $0) }
                    )
                )
            }
            var shareRetry: Int64? = nil
            if case .refused(let retryAt) = shareDecision, retryAt != .max { shareRetry = retryAt }
            guard coordinated, plan.kind != .concurrency || plan.poolLimit > 0 else {
                return refusal(shareRetry ?? (plan.kind == .concurrency ? nil : now + plan.window))
            }
            if plan.kind == .concurrency {
                undo(&scope, key: key, count: index, preHeld: preHeld, at: now)
                return .needsConcurrencyLease(policy)
            }
            let lease = scope.guards[index].lease
            if lease.isRefused(at: now) { return refusal(min(lease.refusedUntil, shareRetry ?? .max)) }
            // Refused inside a fixed window's skew margin with room left: a lease would not help.
            if let usage = scope.guards[index].share.usage(at: now), usage.used < usage.limit { return refusal(shareRetry) }
            undo(&scope, key: key, count: index, preHeld: preHeld, at: now)
            return .needsLease(policy)
        }
        return nil
    }

    /// Gives back the permits of the first `count` policies of a scope, taken at `time` (concurrency pool leases,
    /// `preHeld`, are the caller's).
    package static func undo(_ scope: inout Scope, key: GuardKey, count: Int, preHeld: [PolicyReference: String], at time: Int64) {
        for index in 0..<count {
            if scope.template.plans[index].kind == .concurrency, preHeld[PolicyReference(scope: key, index: index)] != nil { continue }
            scope.guards[index].share.undo(at: time)
        }
    }

    /// Recomputes a scope's allowances when the membership view or health changed or an eligibility moment passed.
    ///
    /// A member spends an allowance only once past its joining wait and while its view is fresh (younger than a
    /// heartbeat plus the window, less twice the skew): a member that joined since could not yet be eligible, so the
    /// allowance still adds up with everyone else's. Otherwise the fallback decides: the local-only share when switched off or
    /// configured `available`, nothing beyond held leases when `exact`.
    private static func refreshShares(
        _ scope: inout Scope,
        at now: Int64,
        settings: Settings,
        context: ShareContext,
        view: borrowing MembershipView?
    ) {
        guard !settings.localOnly, scope.epoch != context.epoch || now >= scope.recheckAt else { return }
        scope.epoch = context.epoch
        scope.recheckAt = .max
        let fallback: (Int) -> Int = { limit in
            context.switchedOff || settings.configuration.fallback == .available ? settings.localShare(limit) : 0
        }
        for index in scope.guards.indices {
            let plan = scope.template.plans[index]
            let allowance: Int
            if context.switchedOff {
                allowance = fallback(plan.limit)
            } else if let view = copy view {
                // A member that joined after the view was read is not eligible before a heartbeat, the skew and the
                // window later: until then, the allowance computed from this view still adds up with everyone's.
                let freshUntil = view.takenAt + settings.heartbeat + plan.window - 2 * settings.skew
                if now >= freshUntil {
                    allowance = fallback(plan.limit)
                } else if view.mayUseShare(window: plan.window, skew: settings.skew, heartbeat: settings.heartbeat, at: now) {
                    allowance = plan.allowance(members: view.count(window: plan.window, skew: settings.skew, at: now))
                    scope.recheckAt = min(scope.recheckAt, freshUntil)
                    if now < view.floorUntil + plan.window {
                        scope.recheckAt = min(scope.recheckAt, view.floorUntil + plan.window)
                    }
                } else {
                    // Still joining: leases serve it meanwhile, and without Redis the fallback.
                    allowance = context.healthy ? 0 : fallback(plan.limit)
                    scope.recheckAt = min(scope.recheckAt, freshUntil)
                    if let joined = view.selfJoinedAt {
                        scope.recheckAt = min(scope.recheckAt, joined + settings.heartbeat + settings.skew + plan.window)
                    }
                }
            } else {
                allowance = fallback(plan.limit)  // never reached Redis
            }
            scope.guards[index].allowance = allowance
            scope.guards[index].applyLimit(at: now, plan: plan)
        }
    }

    // MARK: Releasing

    /// Releases a permit's concurrency permits and, for a call that never went out, gives back its window permits.
    /// Returns the pool leases to release in Redis. A permit without concurrency permits that went out touches no
    /// scope at all.
    package mutating func release(_ permit: FloodgatePermit, giveBackWindows: Bool, at now: Int64) -> [(policy: PolicyReference, lease: String)] {
        guard giveBackWindows || !permit.concurrency.isEmpty else { return [] }
        var poolReleases: [(policy: PolicyReference, lease: String)] = []
        let connection = permit.key.connection
        if scopes[connection] != nil {
            Self.release(permit, in: &scopes[connection]!, key: connection, giveBackWindows: giveBackWindows, at: now, pool: &poolReleases)
        }
        if permit.key.operation != nil, scopes[permit.key] != nil {
            Self.release(permit, in: &scopes[permit.key]!, key: permit.key, giveBackWindows: giveBackWindows, at: now, pool: &poolReleases)
        }
        return poolReleases
    }

    private static func release(
        _ permit: FloodgatePermit,
        in scope: inout Scope,
        key: GuardKey,
        giveBackWindows: Bool,
        at now: Int64,
        pool: inout [(policy: PolicyReference, lease: String)]
    ) {
        for index in scope.guards.indices {
            let policy = PolicyReference(scope: key, index: index)
            let plan = scope.template.plans[index]
            if plan.kind == .concurrency {
                guard let hold = permit.concurrency.first(where: { $0.policy == policy }) else { continue }
                if let lease = hold.poolLease {
                    pool.append((policy, lease))
                } else {
                    scope.guards[index].share.undo(at: now)
                }
            } else if giveBackWindows {
                scope.guards[index].share.undo(at: permit.acquiredAt.nanosecondsSince1970)
            }
        }
    }

    // MARK: Outcomes

    /// What recording an outcome asks of the driver: the fleet work (pool leases to release, a back-off or breaker
    /// event to publish, a probe to count) and the breaker's new state, when it changed.
    package struct Recorded {
        package var effects: [FleetWork] = []
        package var breakerChange: BreakerStateMachine.State? = nil
    }

    /// Records how a permit's call went (`elapsed` after it was allowed): gives back what a call that never went out
    /// took and releases concurrency permits, feeds the breaker, and on a throttle holds the tenant connection back.
    package mutating func record(_ permit: FloodgatePermit, _ outcome: CallOutcome, elapsed: Duration, at now: Int64) -> Recorded {
        var recorded = Recorded()
        let cancelled: Bool
        if case .cancelled = outcome { cancelled = true } else { cancelled = false }
        // A shadow permit took no capacity: it gives none back.
        if permit.shadowRefusal == nil {
            for release in self.release(permit, giveBackWindows: cancelled, at: now) {
                recorded.effects.append(.releaseConcurrency(release.policy, lease: release.lease))
            }
        }
        let integration = permit.key.integration
        switch outcome {
        case .cancelled:
            if permit.isProbe { permit.breaker?.machine.cancelProbe() }
        case .ignored:
            break
        case .throttled(let retryAfter):
            let wait = retryAfter ?? settings.configuration.defaultRetryAfter
            if let event = throttle(permit.key, until: now + max(.zero, wait).nanoseconds, at: now) {
                recorded.effects.append(.publish(event))
            }
        case .success, .failure:
            guard let breaker = permit.breaker else { break }
            let failed: Bool
            if case .failure = outcome { failed = true } else { failed = false }
            let change = breaker.machine.record(failed ? .failure : .success, duration: elapsed, at: now)
            recorded.breakerChange = change
            if let evidence = evidenceToReport(breaker, at: now) {
                recorded.effects.append(.reportBreaker(integration: integration, evidence))
            }
            switch change {
            case .open(let until)?:
                recorded.effects.append(.publish(.breakerOpened(integration: integration, until: until)))
            case .closed?:
                recorded.effects.append(.publish(.breakerClosed(integration: integration)))
            default:
                if let epoch = permit.probeEpoch, !failed {
                    recorded.effects.append(.probeSucceeded(integration: integration, epoch: epoch))
                }
            }
        }
        return recorded
    }

    // MARK: Coordination results

    /// What a lease request for one policy needs to say, and the ledger to ask (the policy is marked in flight until
    /// ``installLease(_:used:committedUntil:cede:for:at:)``); nil when the scope is gone or there is nothing to ask.
    package mutating func leaseRequest(
        for policy: PolicyReference,
        holder: String,
        at now: Int64,
        cede: Bool,
        leaving: Bool = false
    ) -> (ledger: DemandLedger, request: DemandLedger.Request)? {
        let (key, index) = (policy.scope, policy.index)
        guard let view, scopes[key] != nil, scopes[key]!.guards.indices.contains(index),
            let ledger = scopes[key]!.template.plans[index].ledger, let joined = view.selfJoinedAt
        else { return nil }
        let plan = scopes[key]!.template.plans[index]
        let used = scopes[key]!.guards[index].share.usage(at: now)?.used ?? 0
        // A lease or cede never outlives this member's membership (as recorded when the view was read): a crashed
        // member stops being counted after it.
        let membershipEnd = view.selfExpiresAt ?? view.takenAt
        // A lease is sized to a window (or a minute); under contention the commitment made with it lasts ten, so that
        // the ledger can count a hot key's holders as spending no allowance while they renew. Neither outlives the
        // membership.
        var until = min(cede ? now : ledger.leaseEnd(at: now), membershipEnd)
        let wait = settings.heartbeat + settings.skew + plan.window
        // A member this view does not know joined after it was read, so it cannot be past its joining wait before a
        // heartbeat plus the window from then: a lease (a joining one too) ends by that moment, so that
        // every member that can spend an allowance while it lasts is among those the ledger counts.
        let unknownEligible = view.takenAt + settings.heartbeat + plan.window
        // While joining, a lease that asks for no more than this member's slice of the limit (`L / fleetSize`) lasts
        // until its own allowance takes over: one request per sparse key during a cold start, not one a window. A
        // larger ask keeps to a window, so that capacity a joiner does not use returns to the others soon.
        let slice = (plan.limit + view.members.count - 1) / max(1, view.members.count)
        let want = cede ? 0 : scopes[key]!.guards[index].lease.want(used: used, limit: plan.limit, slice: slice)
        if !cede, joined + wait - 2 * settings.skew > until, want * settings.configuration.fleetSize <= plan.limit {
            until = min(joined + wait - 2 * settings.skew - 1_000_000, membershipEnd)
        }
        until = min(until, unknownEligible)
        // Under contention (and for a cede) the commitment lasts ten leases, so that the ledger counts this instance as
        // spending no allowance while it renews, and while it is cut off; without contention the instance returns to
        // its allowance when the lease ends.
        let contended = cede || scopes[key]!.guards[index].lease.contended
        var committed = min(contended ? ledger.cedeEnd(at: now) : until, membershipEnd)
        // A member that leaves is counted for a window (and the skew) more: its commitment must not outlast that
        // (after it, the ledger knows it left and spends nothing more).
        if leaving { committed = min(committed, now + plan.window + settings.skew) }
        until = min(until, committed)
        // A lease that ends before the next member becomes eligible counts one allowance fewer: after a cold start or
        // while instances join, end it there (if that leaves a second) and lease again then.
        if !cede, let next = view.nextEligibility(after: now, window: plan.window, skew: settings.skew, wait: wait),
            next - 2 * settings.skew - now >= 1_000_000_000, next - 2 * settings.skew < until
        {
            until = next - 2 * settings.skew - 1_000_000
        }
        guard committed > now, until > now || cede else { return nil }
        var request = DemandLedger.Request(
            holder: holder,
            now: now,
            until: until,
            committedUntil: committed,
            want: want,
            used: used,
            demand: scopes[key]!.guards[index].lease.demand,
            joinedAt: joined,
            eligibilityWait: wait,
            eligibleMembers: view.eligibleMembers(window: plan.window, skew: settings.skew, wait: wait, by: until + 2 * settings.skew)
        )
        request.leaving = leaving
        scopes[key]!.guards[index].lease.begin(used: used, committedUntil: committed, at: now)
        scopes[key]!.guards[index].leaseInFlight = true
        scopes[key]!.guards[index].applyLimit(at: now, plan: plan)
        return (ledger, request)
    }

    /// The policies whose entries a leaving instance should rewrite: those with a lease within the last window or a
    /// commitment in force (its entry must neither outlast the window in which the others still count it, nor keep
    /// what it no longer spends).
    package func handOverCandidates(at now: Int64) -> [PolicyReference] {
        var found: [PolicyReference] = []
        for (key, scope) in scopes {
            for index in scope.guards.indices where scope.template.plans[index].ledger != nil {
                let lease = scope.guards[index].lease
                let recent = (lease.lease?.until ?? .min) &+ scope.template.plans[index].window > now
                if recent || lease.isCommitted(at: now) { found.append(PolicyReference(scope: key, index: index)) }
            }
        }
        return found
    }

    /// Installs the ledger's answer for one policy (nil: the request failed) and clears the pending request.
    package mutating func installLease(
        _ grant: DemandLedger.Grant?,
        used: Int,
        committedUntil: Int64,
        cede: Bool,
        for policy: PolicyReference,
        at now: Int64
    ) {
        let (key, index) = (policy.scope, policy.index)
        guard scopes[key] != nil, scopes[key]!.guards.indices.contains(index) else { return }
        if let grant {
            if cede {
                scopes[key]!.guards[index].lease.cede(used: used, committedUntil: committedUntil, at: now)
            } else {
                scopes[key]!.guards[index].lease.install(grant, used: used, committedUntil: committedUntil, at: now)
            }
            scopes[key]!.guards[index].applyLimit(at: now, plan: scopes[key]!.template.plans[index])
        }
        scopes[key]!.guards[index].leaseInFlight = false
    }

    /// Whether a lease request for one policy may ask the fleet to cede (at most once a second: cedes land within
    /// milliseconds, and a shortage nobody can relieve, such as allowances of members that just left, must not cost
    /// an ask every 50 ms retry).
    package func mayAskToCede(_ policy: PolicyReference, at now: Int64) -> Bool {
        let index = policy.index
        guard let scope = scopes[policy.scope], scope.guards.indices.contains(index) else { return false }
        return scope.guards[index].lease.mayAskToCede(at: now, period: 1_000_000_000)
    }

    /// Refuses calls of one policy locally until `until` (no lease can be asked for now).
    package mutating func refuseLocally(_ policy: PolicyReference, until: Int64) {
        let (key, index) = (policy.scope, policy.index)
        guard scopes[key] != nil, scopes[key]!.guards.indices.contains(index) else { return }
        scopes[key]!.guards[index].lease.refuse(until: until)
    }

    /// What this instance should do when another found a policy's ledger short: cede its allowance (it holds no
    /// lease and spends less than half its allowance), or lease again for what its demand needs (it holds a lease
    /// taken without contention or spanning further windows, larger than that). Makes the scope when it is new here.
    package enum CedeAnswer { case cede, shrink }

    /// The answer to an ask short by `needed` calls with `candidates` members that may cede. An instance that can
    /// cede does so with the chance that makes about twice the cedes the ask needs: in a fleet of forty, a sticky
    /// tenant's instance short by a few calls gets a few cedes (four commands each), not thirty-nine.
    package mutating func answerToCede(_ policy: PolicyReference, needed: Int, candidates: Int, at now: Int64) -> CedeAnswer? {
        guard let answer = answerToCede(policy, at: now) else { return nil }
        guard answer == .cede, candidates > 1, needed < .max / 2,
            let allowance = scopes[policy.scope]?.guards[policy.index].allowance, allowance > 0
        else { return answer }
        let cedesNeeded = (max(1, needed) + allowance - 1) / allowance
        let chance = Double(2 * cedesNeeded) / Double(candidates)
        return chance >= 1 || Double.random(in: 0..<1, using: &generator) < chance ? .cede : nil
    }

    private mutating func answerToCede(_ policy: PolicyReference, at now: Int64) -> CedeAnswer? {
        let (key, index) = (policy.scope, policy.index)
        guard !settings.localOnly, healthy, !switchedOff else { return nil }
        if key.operation != nil, scopes[key.connection] == nil { scopes[key.connection] = makeScope(key.connection, at: now) }
        if scopes[key] == nil { scopes[key] = makeScope(key, at: now) }
        guard var scope = scopes[key], scope.guards.indices.contains(index) else { return nil }
        Self.refreshShares(&scope, at: now, settings: settings, context: ShareContext(healthy: healthy, epoch: epoch, switchedOff: switchedOff), view: view)
        defer { scopes[key] = scope }
        var guardState = scope.guards[index]
        guard !guardState.leaseInFlight else { return nil }
        let used = guardState.share.usage(at: now)?.used ?? 0
        if guardState.lease.isCommitted(at: now) {
            // A lease taken without contention, or one that spans further windows (a renewal of a hot key), is
            // re-sized to what the demand needs; a contended lease of the window in course runs its course.
            guard let held = guardState.lease.lease, held.until > now,
                !guardState.lease.contended || held.until - now > scope.template.plans[index].window
            else { return nil }
            guardState.lease.markContended()
            scope.guards[index] = guardState
            let needed = guardState.lease.want(used: used, limit: scope.template.plans[index].limit)
            return held.calls > needed ? .shrink : nil
        }
        guard guardState.allowance > 0 else { return nil }
        return 2 * used < guardState.allowance ? .cede : nil  // an allowance of one permit not yet spent cedes too
    }

    /// Installs a membership view.
    package mutating func install(view newView: MembershipView) {
        view = newView
        healthy = true
        epoch += 1
    }

    /// New limits, breaker policies and shadow integrations, of the same shape (``Floodgate/reload(_:)`` checks):
    /// every scope keeps its counts and takes the new plans; shares are computed again at its next decision.
    package mutating func reconfigure(_ configuration: FloodgateConfiguration) {
        settings = Settings(
            configuration: configuration,
            localOnly: settings.localOnly,
            skew: settings.skew,
            heartbeat: settings.heartbeat,
            idleTimeout: settings.idleTimeout,
            jitter: settings.jitter
        )
        templates = [:]
        for key in Array(scopes.keys) {
            guard var scope = scopes[key] else { continue }
            let name = key.integration + "\u{0}" + (key.operation ?? "")
            let template = templates[name] ?? settings.makeTemplate(key)
            templates[name] = template
            scope.template = template
            scope.epoch = -1
            if settings.localOnly {
                for index in scope.guards.indices where index < template.plans.count {
                    scope.guards[index].share.setLimit(settings.localShare(template.plans[index].limit))
                }
            }
            scopes[key] = scope
        }
        for (integration, box) in breakers { box.machine.policy = configuration.breakerPolicy(for: integration) }
    }

    package mutating func setHealthy(_ value: Bool) {
        guard healthy != value else { return }
        healthy = value
        epoch += 1
    }

    // MARK: Breakers and back-off

    /// The report-interval tick: the breaker evidence held back by the interval since the last report (failures or
    /// slow calls recorded since, that no later outcome has sent).
    package mutating func breakerReportsDue(at now: Int64) -> [FleetWork] {
        breakers.compactMap { integration, box in
            evidenceToReport(box, at: now).map { FleetWork.reportBreaker(integration: integration, $0) }
        }
    }

    /// A breaker's evidence for the fleet, when Redis is reachable and the breaker says it is worth a report.
    private func evidenceToReport(_ breaker: BreakerBox, at now: Int64) -> BreakerEvidence? {
        guard healthy else { return nil }
        return breaker.machine.evidenceToReport(
            at: now,
            fraction: settings.configuration.breakerReportFraction,
            interval: settings.configuration.breakerReportInterval.nanoseconds
        )
    }

    /// Applies another instance's (or the state hash's) event; returns the breaker's new state when it changed.
    @discardableResult
    package mutating func apply(_ event: FleetEvent, at now: Int64) -> (integration: String, state: BreakerStateMachine.State)? {
        switch event {
        case .breakerOpened(let integration, let until):
            guard until > now else { return nil }
            return breaker(integration).machine.open(until: until).map { (integration, $0) }
        case .breakerClosed(let integration):
            return breaker(integration).machine.close().map { (integration, $0) }
        case .breakerForced(let integration, let open):
            let box = breaker(integration)
            let change = open.map { box.machine.force(open: $0) } ?? box.machine.release()
            return change.map { (integration, $0) }
        case .backoff(let integration, let tenant, let until):
            guard until > now, let key = try? GuardKey(integration: integration, tenant: tenant) else { return nil }
            if scopes[key] == nil { scopes[key] = makeScope(key, at: now) }
            _ = scopes[key]!.backoff.throttle(until: until, jitterWindow: settings.jitter, using: &generator)
            return nil
        case .cedeWanted:
            return nil  // ``Floodgate`` decides and sends the cede
        }
    }

    /// Records a provider's throttle on a tenant connection; returns the event to publish when it is news.
    package mutating func throttle(_ key: GuardKey, until: Int64, at now: Int64) -> FleetEvent? {
        let connection = key.connection
        if scopes[connection] == nil { scopes[connection] = makeScope(connection, at: now) }
        guard scopes[connection]!.backoff.throttle(until: until, jitterWindow: settings.jitter, using: &generator) else {
            return nil
        }
        return .backoff(integration: key.integration, tenant: key.tenant, until: until)
    }

    // MARK: Housekeeping

    /// Drops scopes unused for the idle timeout and longer than any of their windows; returns how many.
    package mutating func evictIdle(at now: Int64) -> Int {
        let before = scopes.count
        let timeout = settings.idleTimeout
        scopes = scopes.filter { _, scope in
            !(scope.isIdle && now - scope.lastUsed > max(timeout, scope.template.keepFor))
        }
        return before - scopes.count
    }
}
