import FloodgateRedis
import Logging
import ServiceLifecycle
import Synchronization

/// Guards a fleet's calls to third-party APIs: rate limits exact across the fleet, circuit breakers and provider
/// back-off shared by every instance, with no Redis command on the decision path while an instance holds capacity.
///
/// Run it as a `Service` (its `run()` keeps membership, listens for the fleet's events and reports breaker evidence),
/// next to the `RedisClient` it uses:
///
/// ```swift
/// let floodgate = try Floodgate(configuration: configuration, store: .redis(client), logger: logger)
/// let group = ServiceGroup(services: [client, floodgate], logger: logger)
/// // elsewhere:
/// let reply = try await floodgate.call(try GuardKey(integration: "slack", tenant: team)) { try await send() }
/// ```
///
/// With ``FloodgateStore/memory`` or `suspendRedis`, it sends no Redis command at all: each instance enforces its
/// configured share of every limit. See `docs/ARCHITECTURE.md` for the coordination design.
public final class Floodgate: Service, Sendable {
    /// The configuration in force (``reload(_:)`` changes its limits, breakers and shadow integrations).
    public var configuration: FloodgateConfiguration { configurationInForce.withLock { $0 } }
    /// Behind its own lock: read inside the engine's too.
    let configurationInForce: Mutex<FloodgateConfiguration>
    let clock: FloodgateClock
    let logger: Logger
    let fleet: FleetRedis?
    let engine: Mutex<GuardEngine>
    /// The lease requests on their way, one per policy at most (the engine marks the policy; the task is the
    /// driver's). Taken only under the engine's lock.
    let leasesInFlight = Mutex<[PolicyReference: Task<Void, Never>]>([:])
    /// Shadow mode's would-be refusals, by integration and reason.
    let shadowCounts = Mutex<[String: [FloodgateError.Code: Int]]>([:])
    let work: AsyncStream<FleetWork>
    let workSink: AsyncStream<FleetWork>.Continuation
    /// Work handed to the work loop and not finished yet.
    let workPending = Atomic<Int>(0)
    let breakerEventHub = BreakerEventHub()
    /// When it sheds down to ``CommandBudget/Level/localOnly``, coordination stops (degraded mode) until it recovers.
    let budget: CommandBudget?
    /// The kill switch: off, no command is sent and decisions use the state held in memory.
    public let redisSwitch: RedisSwitch

    /// Makes a Floodgate. Nothing is sent to Redis before ``run()``.
    ///
    /// - Parameters:
    ///   - configuration: limits, breakers, fleet and timing; validated here.
    ///   - store: `.redis(client)` to coordinate the fleet, `.memory` for local-only mode.
    ///   - clock: the time of every decision (a `ManualClock` for tests and replays).
    ///   - budget: the Redis command budget; at its `localOnly` level the guards stop coordinating.
    ///   - redisSwitch: the kill switch, shared with the cache and the budget (default: a new one, on unless
    ///     `suspendRedis`).
    /// - Throws: ``FloodgateError`` `.invalidConfiguration` naming the bad field.
    public init<C: Clock>(
        configuration: FloodgateConfiguration,
        store: FloodgateStore,
        clock: C = WallClock(),
        budget: CommandBudget? = nil,
        redisSwitch: RedisSwitch? = nil,
        logger: Logger = Logger(label: "floodgate")
    ) throws where C.Instant == WallInstant, C: Sendable {
        try configuration.validate()
        configurationInForce = Mutex(configuration)
        self.budget = budget
        self.redisSwitch = redisSwitch ?? RedisSwitch(on: !configuration.suspendRedis)
        self.clock = FloodgateClock(clock)
        var logger = logger
        logger[metadataKey: "floodgate.instance"] = "\(configuration.instanceID)"
        self.logger = logger
        let schema = try RedisKeySchema(prefix: configuration.keyPrefix)
        let localOnly: Bool
        switch store {
        case .redis(let client):
            fleet = FleetRedis(client: client, schema: schema, instanceID: configuration.instanceID)
            localOnly = false
        case .memory:
            fleet = nil
            localOnly = true
        }
        engine = Mutex(
            GuardEngine(
                settings: GuardEngine.Settings(
                    configuration: configuration,
                    localOnly: localOnly,
                    skew: configuration.maximumClockSkew.nanoseconds,
                    heartbeat: configuration.heartbeatInterval.nanoseconds,
                    idleTimeout: configuration.idleKeyTimeout.nanoseconds,
                    jitter: configuration.backoffJitter.nanoseconds
                )
            )
        )
        (work, workSink) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// Whether this instance coordinates through Redis (`shared`: a heartbeat answered and the fleet's state has been
    /// read), runs on its own because Redis is unreachable or not read yet (`degraded`), or does not use Redis
    /// (`localOnly`: the memory store, or the kill switch off — `SUSPEND_REDIS`).
    public enum Mode: String, Sendable, Hashable {
        case shared
        case degraded
        case localOnly
    }

    /// The current mode.
    public var mode: Mode {
        guard fleet != nil, redisSwitch.isOn else { return .localOnly }
        return engine.withLock { $0.healthy && $0.fleetStateRead } ? .shared : .degraded
    }

    /// Turns Redis use on or off (the kill switch). Off applies at once: the next decision uses only what this
    /// instance holds, and nothing more is sent; on, the instance rejoins the fleet within a recovery interval.
    public func setRedisEnabled(_ enabled: Bool) {
        let was = redisSwitch.set(on: enabled)
        guard was != enabled else { return }
        if !enabled { engine.withLock { $0.setHealthy(false) } }
        logger.notice(enabled ? "Redis switched on: rejoining the fleet" : "Redis switched off: deciding locally, no command sent")
    }

    /// Whether coordination is off: the kill switch, or the command budget shedding it.
    var coordinationOff: Bool {
        if !redisSwitch.isOn { return true }
        if let budget, budget.level >= .localOnly { return true }
        return false
    }

    // MARK: Guarding calls

    /// Gets permission for one call on `key`, counting as `cost` calls against every limit (a batch, or a composite
    /// request the provider counts as several; the breaker and the back-off see one call).
    ///
    /// Decides locally while this instance holds capacity (its allowance or a lease); otherwise leases from the
    /// fleet's ledger, sized to its demand (one script call, shared by concurrent callers). With `waitingUpTo`, a refusal whose retry time falls within the wait is waited
    /// out on the clock; without, refusals throw at once. A weighted call takes all of its units or none.
    ///
    /// - Throws: ``FloodgateError`` `.rateLimited`, `.breakerOpen` or `.providerBackoff`, with the retry time;
    ///   `.invalidArgument` for a cost below 1.
    public func acquire(_ key: GuardKey, cost: Int = 1, waitingUpTo wait: Duration? = nil) async throws -> FloodgatePermit {
        guard cost >= 1 else { throw FloodgateError(.invalidArgument, "cost must be at least 1 (was \(cost))", field: "cost") }
        let deadline = wait.map { clock.now().advanced(by: $0) }
        while true {
            var first = try await acquireUnit(key, limitsOnly: false, deadline: deadline)
            guard cost > 1 else { return first }
            var units: [FloodgatePermit] = []
            units.reserveCapacity(cost - 1)
            do {
                for _ in 1..<cost {
                    let unit = try await acquireUnit(key, limitsOnly: true, deadline: nil)
                    if let refusal = unit.shadowRefusal, first.shadowRefusal == nil { first.shadowRefusal = refusal }
                    units.append(unit)
                }
                first.units = units
                return first
            } catch let error as FloodgateError {
                for unit in units { record(unit, .cancelled) }
                record(first, .cancelled)
                guard let deadline, let retryAt = error.retryAt, retryAt <= deadline else { throw error }
                try await clock.sleep(until: retryAt)
            }
        }
    }

    /// One unit of a call: the whole decision, or (`limitsOnly`) the limits alone.
    private func acquireUnit(_ key: GuardKey, limitsOnly: Bool, deadline: WallInstant?) async throws -> FloodgatePermit {
        var preHeld: [PolicyReference: String] = [:]
        var leaseRounds = 0
        while true {
            let now = clock.now().nanosecondsSince1970
            let off = !redisSwitch.isOn
            let step = engine.withLock { $0.decide(key, at: now, preHeld: preHeld, limitsOnly: limitsOnly, switchedOff: off) }
            switch step {
            case .allowed(let permit, let needsFleetProbe):
                guard needsFleetProbe, let epoch = permit.probeEpoch else { return permit }
                if await fleetProbeGranted(permit, epoch: epoch) { return permit }
                record(permit, .cancelled)
                let error = FloodgateError(
                    .breakerOpen,
                    "the breaker of \(key.integration) is half-open and the fleet's probes are out",
                    retryAt: WallInstant(nanosecondsSince1970: now).advanced(by: configuration.breakerReportInterval)
                )
                if let shadow = try await refuse(key, error, at: now, deadline: deadline) { return shadow }
            case .refused(let error):
                releasePoolLeases(preHeld)
                preHeld = [:]
                if let shadow = try await refuse(key, error, at: now, deadline: deadline) { return shadow }
            case .needsLease(let policy):
                // A lease answers at once: more than a few rounds for one call means the answer cannot serve it.
                leaseRounds += 1
                guard leaseRounds <= 3 else {
                    let error = FloodgateError(
                        .rateLimited,
                        "\(key): no lease could be had",
                        retryAt: WallInstant(nanosecondsSince1970: now + configuration.recoveryInterval.nanoseconds)
                    )
                    if let shadow = try await refuse(key, error, at: now, deadline: deadline) { return shadow }
                    leaseRounds = 0
                    continue
                }
                await lease(policy)
            case .needsConcurrencyLease(let policy):
                if let lease = await concurrencyLease(policy, at: now) {
                    preHeld[policy] = lease
                } else {
                    releasePoolLeases(preHeld)
                    preHeld = [:]
                    let error = FloodgateError(
                        .rateLimited,
                        "\(key): every concurrency permit is in use",
                        retryAt: WallInstant(nanosecondsSince1970: now + 100_000_000)
                    )
                    if let shadow = try await refuse(key, error, at: now, deadline: deadline) { return shadow }
                }
            }
        }
    }

    /// Decides a call on `key` now, without suspending: a permit when this instance holds capacity, a thrown
    /// ``FloodgateError`` when the call is refused, and nil when the decision needs Redis (a lease, a concurrency
    /// lease, a fleet-wide half-open probe) — then use ``acquire(_:cost:waitingUpTo:)``. For hot paths outside async code.
    public func tryAcquire(_ key: GuardKey) throws -> FloodgatePermit? {
        let now = clock.now().nanosecondsSince1970
        let off = !redisSwitch.isOn
        switch engine.withLock({ $0.decide(key, at: now, preHeld: [:], switchedOff: off) }) {
        case .allowed(let permit, let needsFleetProbe):
            guard needsFleetProbe else { return permit }
            record(permit, .cancelled)
            return nil
        case .refused(let error):
            if let shadow = shadowPermit(key, refusedBy: error, at: now) { return shadow }
            throw error
        case .needsLease, .needsConcurrencyLease:
            return nil
        }
    }

    /// In shadow mode, a permit for a call that `error` would have refused (counted in ``shadowRefusals``); nil
    /// when the integration is not shadowed.
    private func shadowPermit(_ key: GuardKey, refusedBy error: FloodgateError, at now: Int64) -> FloodgatePermit? {
        guard error.isRefusal, configuration.isShadowed(key.integration) else { return nil }
        let breaker = engine.withLock { $0.breaker(key.integration) }
        shadowCounts.withLock { $0[key.integration, default: [:]][error.code, default: 0] += 1 }
        var permit = FloodgatePermit(
            key: key,
            acquiredAt: WallInstant(nanosecondsSince1970: now),
            probeEpoch: nil,
            concurrency: [],
            breaker: breaker
        )
        permit.shadowRefusal = error.code
        return permit
    }

    /// What shadow mode let through that would have been refused, by integration and reason.
    public var shadowRefusals: [String: [FloodgateError.Code: Int]] { shadowCounts.withLock { $0 } }

    /// A refusal of a call on `key`: in shadow mode a permit to let it through; otherwise waits it out when its
    /// retry time falls before `deadline` (nil: decide again), or throws it.
    private func refuse(_ key: GuardKey, _ error: FloodgateError, at now: Int64, deadline: WallInstant?) async throws -> FloodgatePermit? {
        if let shadow = shadowPermit(key, refusedBy: error, at: now) { return shadow }
        guard let deadline, let retryAt = error.retryAt, retryAt <= deadline else { throw error }
        try await clock.sleep(until: retryAt)
        return nil
    }

    /// Records how a call went: releases its concurrency permits, feeds the breaker, and on a throttle holds the
    /// whole fleet back from the tenant connection. Slow calls are recognised from the time since the permit.
    public func record(_ permit: FloodgatePermit, _ outcome: CallOutcome, duration: Duration? = nil) {
        // A weighted call's further units only give their permits back (when cancelled) or release what they hold.
        for unit in permit.units {
            if case .cancelled = outcome { record(unit, .cancelled) } else { record(unit, .ignored) }
        }
        let now = clock.now().nanosecondsSince1970
        let elapsed = duration ?? .nanoseconds(now - permit.acquiredAt.nanosecondsSince1970)
        let recorded = engine.withLock { $0.record(permit, outcome, elapsed: elapsed, at: now) }
        if let change = recorded.breakerChange {
            emitBreakerChange(permit.key.integration, change, at: now)
        }
        guard fleet != nil else { return }
        for effect in recorded.effects { enqueue(effect) }
    }

    /// Runs `body` under a permit for `key` (counting as `cost` calls) and records its outcome: success when it
    /// returns, failure when it throws (a `CancellationError` gives the permits back instead).
    public func call<Result: Sendable>(
        _ key: GuardKey,
        cost: Int = 1,
        waitingUpTo wait: Duration? = nil,
        _ body: () async throws -> Result
    ) async throws -> Result {
        let permit = try await acquire(key, cost: cost, waitingUpTo: wait)
        do {
            let result = try await body()
            record(permit, .success)
            return result
        } catch is CancellationError {
            record(permit, .cancelled)
            throw CancellationError()
        } catch {
            record(permit, .failure)
            throw error
        }
    }

    // MARK: Operating breakers

    /// Forces an integration's breaker open (`true`) or closed (`false`) on every instance, or releases it (`nil`).
    public func forceBreaker(_ integration: String, open: Bool?) async throws {
        _ = try GuardKey(integration: integration, tenant: "t")
        let event = FleetEvent.breakerForced(integration: integration, open: open)
        let now = clock.now().nanosecondsSince1970
        applyFleetEvent(event, at: now)
        if let fleet {
            try await fleet.publish(event, keepFor: 86_400_000_000_000, component: .breaker)
        }
    }

    /// The breaker changes seen by this instance from now on (opens by local or fleet evidence or by other
    /// instances' events, closes, forced states), until shutdown. Half-open is not an event: it happens at the first
    /// call after the open period; read it with ``breakerState(of:)``.
    public func breakerEvents() -> AsyncStream<BreakerEvent> { breakerEventHub.subscribe() }

    func emitBreakerChange(_ integration: String, _ state: BreakerStateMachine.State, at now: Int64) {
        breakerEventHub.emit(
            BreakerEvent(integration: integration, state: state.publicState, at: WallInstant(nanosecondsSince1970: now))
        )
    }

    /// Applies a fleet event and reports the breaker change it caused, if any.
    func applyFleetEvent(_ event: FleetEvent, at now: Int64) {
        if case .cedeWanted(let scope, let index, let needed, let candidates) = event {
            let policy = PolicyReference(scope: scope, index: index)
            if let answer = engine.withLock({ $0.answerToCede(policy, needed: needed, candidates: candidates, at: now) }) {
                enqueue(.cede(policy, shrink: answer == .shrink))
            }
            return
        }
        if let change = engine.withLock({ $0.apply(event, at: now) }) {
            emitBreakerChange(change.integration, change.state, at: now)
        }
    }

    /// The breaker state of an integration, as this instance sees it.
    public func breakerState(of integration: String) -> BreakerState {
        engine.withLock { engine in
            engine.breakers[integration]?.machine.state.publicState ?? .closed
        }
    }

    /// Until when this instance holds `key`'s tenant connection back after a provider's throttle (its own jittered
    /// release included); nil when it does not hold it back now.
    public func backoffUntil(_ key: GuardKey) -> WallInstant? {
        let now = clock.now().nanosecondsSince1970
        return engine.withLock { engine in
            guard let backoff = engine.scopes[key.connection]?.backoff, let until = backoff.until, until + backoff.jitter > now else {
                return nil
            }
            return WallInstant(nanosecondsSince1970: until + backoff.jitter)
        }
    }

    /// The number of keys (scopes) with state in memory.
    public var keyCount: Int { engine.withLock { $0.scopes.count } }
}

/// A circuit breaker's state as reported by ``Floodgate/breakerState(of:)``.
public enum BreakerState: Sendable, Hashable {
    case closed
    case open(until: WallInstant)
    case halfOpen
    case forcedOpen
    case forcedClosed
}
