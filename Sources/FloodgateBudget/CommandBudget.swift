import FloodgateCore
import FloodgateRedis
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The fleet's Redis command allowance (a pay-per-command plan), and what to shed before it is overspent.
///
/// **It cannot recurse.** Usage is counted from the client's own command accounting (every command the process
/// writes, its own included), never by reading Redis per operation; once per interval the instance adds what it sent
/// to a per-period counter in Redis with one `INCRBY` (pipelined with the monthly one when both allowances are set) and
/// learns the fleet's total from the reply. The budget depends on the accounting; the cache and the guards depend on
/// the budget; nothing the budget does goes through them.
///
/// **Shedding order.** When the period's projected usage (used so far plus the last interval's fleet rate until the
/// period ends) exceeds the allowance, the level rises to ``Level/nearCacheOnly`` (the response cache stops reading
/// and writing Redis); if the projection still exceeds it an interval later, to ``Level/localOnly`` (guards stop
/// coordinating too: local shares only). Each step is logged once and shown by the `floodgate_budget_level` gauge
/// and ``status``. The level steps back down one interval after the projection falls under 90% of the allowance, and
/// resets at the start of each period.
public final class CommandBudget: Service, Sendable {
    /// How much is shed.
    public enum Level: Int, Sendable, Hashable, Comparable, CustomStringConvertible {
        case normal = 0
        /// The response cache serves and fills its near cache only.
        case nearCacheOnly = 1
        /// The guards also stop coordinating (local-only shares).
        case localOnly = 2

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
        public var description: String { ["normal", "nearCacheOnly", "localOnly"][rawValue] }
    }

    public struct Configuration: Sendable {
        /// Commands the whole fleet may send per UTC day (nil: no daily allowance).
        public var perDay: Int?
        /// Commands per 30-day period counted from the epoch (nil: none). A plan's month rarely starts there: set
        /// the daily allowance for exact plan periods.
        public var perMonth: Int?
        /// How often usage is shared with the fleet while the projection is within reach of the allowance (and
        /// while shedding, and until the fleet's rate is known).
        public var interval: Duration
        /// The longest gap between two reports, taken while even four times the fleet's last rate would leave
        /// half the headroom unused until the next report (``nextReportDelay``). Meanwhile the instance looks at its
        /// own accounting every `interval` and reports at once when it sends four times its own last rate (and at
        /// least 0.5% of the allowance): a surge elsewhere in the fleet goes unseen here for at most this long.
        public var maximumInterval: Duration
        public var keyPrefix: String

        public init(
            perDay: Int? = nil,
            perMonth: Int? = nil,
            interval: Duration = .seconds(60),
            maximumInterval: Duration = .seconds(900),
            keyPrefix: String = "fg"
        ) {
            self.perDay = perDay
            self.perMonth = perMonth
            self.interval = interval
            self.maximumInterval = maximumInterval
            self.keyPrefix = keyPrefix
        }

        /// - Throws: ``FloodgateError`` `.invalidConfiguration`.
        public func validate() throws {
            if let perDay, perDay <= 0 { throw FloodgateError(.invalidConfiguration, "budget: perDay must be positive") }
            if let perMonth, perMonth <= 0 {
                throw FloodgateError(.invalidConfiguration, "budget: perMonth must be positive")
            }
            if interval <= .zero { throw FloodgateError(.invalidConfiguration, "budget: interval must be positive") }
            if maximumInterval < interval {
                throw FloodgateError(.invalidConfiguration, "budget: maximumInterval must be at least interval")
            }
            _ = try RedisKeySchema(prefix: keyPrefix)
        }
    }

    /// What the budget knows.
    public struct Status: Sendable, Hashable {
        public var level: Level
        /// The fleet's usage in the current day and 30-day period, as of the last report.
        public var usedToday: Int
        public var usedThisMonth: Int
        /// The projected usage at the end of the tightest period, and that period's allowance.
        public var projected: Int
        public var allowance: Int?
        /// The most commands this budget itself sends per instance in any 24 hours: one `INCRBY` per allowance per
        /// interval, plus an `EXPIRE` on each period key it creates (at most two day keys and two month keys). Far
        /// from the allowance it reports less often (``Configuration/maximumInterval``) and sends less.
        public var ownCommandsPerDay: Int
        /// The fleet's Redis commands per minute between the last two reports (nil before two reports): every
        /// instance adds its usage to the shared counter, so its reply is the fleet's, at no extra command.
        public var fleetCommandsPerMinute: Double?
    }

    private struct State {
        var level = Level.normal
        var lastAccounted = 0
        var usedToday = 0
        var usedThisMonth = 0
        var projected = 0
        var fleetCommandsPerMinute: Double?
        var dayIndex: Int64 = -1
        var monthIndex: Int64 = -1
        var lastFleetTotal: Int?
        var lastReportAt: Int64?
        /// This instance's own commands per nanosecond between its last two reports, and when it last reported.
        var localRate: Double?
        var localReportAt: Int64?
        var overSince: Int64?
    }

    public let configuration: Configuration
    private let client: RedisClient
    /// Off: no report is sent (the usage is shared again at the first report after it is back on).
    let redisSwitch: RedisSwitch
    private let clock: FloodgateClock
    private let logger: Logger
    private let state = Mutex(State())
    private let gauge: Gauge

    public init<C: Clock>(
        configuration: Configuration,
        client: RedisClient,
        clock: C = WallClock(),
        redisSwitch: RedisSwitch = RedisSwitch(),
        logger: Logger = Logger(label: "floodgate.budget"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws where C.Instant == WallInstant, C: Sendable {
        try configuration.validate()
        self.configuration = configuration
        self.client = client
        self.redisSwitch = redisSwitch
        self.clock = FloodgateClock(clock)
        self.logger = logger
        self.gauge = Gauge(label: "floodgate_budget_level", factory: metricsFactory)
        gauge.record(0)
    }

    /// The current shedding level: a lock and a read, no Redis.
    public var level: Level { state.withLock { $0.level } }

    public var status: Status {
        let perInterval = (configuration.perDay != nil ? 1 : 0) + (configuration.perMonth != nil ? 1 : 0)
        let reports = Int(86_400_000_000_000 / max(1, configuration.interval.nanoseconds))
        return state.withLock { state in
            Status(
                level: state.level,
                usedToday: state.usedToday,
                usedThisMonth: state.usedThisMonth,
                projected: state.projected,
                allowance: configuration.perDay ?? configuration.perMonth,
                ownCommandsPerDay: perInterval * (reports + 2),
                fleetCommandsPerMinute: state.fleetCommandsPerMinute
            )
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.report()
                // Wait out the delay an interval at a time, and report at once if this instance's own usage surges
                // (read from its accounting: no command), so that a long delay never hides a burst.
                let due = self.clock.now().advanced(by: self.nextReportDelay)
                repeat {
                    let step = min(due, self.clock.now().advanced(by: self.configuration.interval))
                    do {
                        try await self.clock.sleep(until: step)
                    } catch {
                        return
                    }
                } while self.clock.now() < due && !self.isSurging(at: self.clock.now().nanosecondsSince1970)
            }
        }
    }

    /// Whether this instance has sent, since its last report, more than four times what its own last rate predicts
    /// and at least 0.5% of the allowance: a surge the fleet should hear of before the next report is due.
    package func isSurging(at now: Int64) -> Bool {
        guard let allowance = configuration.perDay ?? configuration.perMonth else { return false }
        let total = client.accounting.snapshot().total
        return state.withLock { state in
            guard let since = state.localReportAt, now > since else { return false }
            let sent = Double(total - state.lastAccounted)
            let expected = (state.localRate ?? 0) * Double(now - since)
            return sent >= Double(allowance) / 200 && sent > 4 * expected
        }
    }

    static let day: Int64 = 86_400_000_000_000
    static let month: Int64 = 30 * day

    /// How long after a report the next one is due: ``Configuration/interval`` while shedding, before the fleet's
    /// rate is known, or while the projection is near the allowance; otherwise the time in which the fleet, at four
    /// times its last rate, would use half the headroom left under the allowance — at most
    /// ``Configuration/maximumInterval``.
    public var nextReportDelay: Duration {
        let (interval, maximum) = (configuration.interval, configuration.maximumInterval)
        return state.withLock { state in
            guard state.level == .normal, let perMinute = state.fleetCommandsPerMinute, perMinute > 0,
                let allowance = configuration.perDay ?? configuration.perMonth, allowance > state.projected
            else { return interval }
            let seconds = Double(allowance - state.projected) / 2 / (4 * perMinute / 60)
            guard seconds.isFinite else { return maximum }
            return min(maximum, max(interval, .seconds(min(seconds, 1e9))))
        }
    }

    /// Adds this instance's commands since the last report to the fleet's counters and recomputes the level (the
    /// service's loop calls it every ``nextReportDelay``).
    package func report() async {
        guard redisSwitch.isOn else { return }  // the kill switch: not even the budget's own INCRBY
        let now = clock.now().nanosecondsSince1970
        let total = client.accounting.snapshot().total
        let (delta, dayIndex, monthIndex) = state.withLock { state -> (Int, Int64, Int64) in
            let delta = max(0, total - state.lastAccounted)
            state.lastAccounted = total
            if let since = state.localReportAt, now > since { state.localRate = Double(delta) / Double(now - since) }
            state.localReportAt = now
            return (delta, now.floorDivided(by: Self.day), now.floorDivided(by: Self.month))
        }
        var commands: [RedisCommand] = []
        let dayKey = "\(configuration.keyPrefix):budget:d:\(dayIndex)"
        let monthKey = "\(configuration.keyPrefix):budget:m:\(monthIndex)"
        if configuration.perDay != nil { commands.append(RedisCommand("INCRBY", dayKey, String(delta))) }
        if configuration.perMonth != nil { commands.append(RedisCommand("INCRBY", monthKey, String(delta))) }
        guard !commands.isEmpty else { return }
        do {
            let replies = try await client.pipeline(commands, component: .budget).map { try $0.get().int() }
            var index = 0
            var usedToday = 0
            var usedThisMonth = 0
            if configuration.perDay != nil {
                usedToday = replies[index]
                if usedToday == delta { _ = try? await client.labelled(.budget).expire(dayKey, seconds: 2 * 86_400) }
                index += 1
            }
            if configuration.perMonth != nil {
                usedThisMonth = replies[index]
                if usedThisMonth == delta { _ = try? await client.labelled(.budget).expire(monthKey, seconds: 62 * 86_400) }
            }
            update(usedToday: usedToday, usedThisMonth: usedThisMonth, dayIndex: dayIndex, monthIndex: monthIndex, at: now)
        } catch {
            // Not counted by the fleet: this usage goes with the next report.
            state.withLock { $0.lastAccounted -= delta }
            logger.warning("cannot share command usage with the fleet", metadata: ["error": "\(error)"])
        }
    }

    private func update(usedToday: Int, usedThisMonth: Int, dayIndex: Int64, monthIndex: Int64, at now: Int64) {
        let (old, new) = state.withLock { state -> (Level, Level) in
            let old = state.level
            if state.dayIndex != dayIndex || state.monthIndex != monthIndex {
                // A new period: start afresh.
                if state.dayIndex != -1 { state.level = .normal }
                state.dayIndex = dayIndex
                state.monthIndex = monthIndex
                state.lastFleetTotal = nil
                state.lastReportAt = nil
                state.overSince = nil
            }
            func project(used: Int, previous: Int?, allowance: Int?, periodEnd: Int64) -> (Int, Int)? {
                guard let allowance else { return nil }
                var projected = used
                if let previous, let last = state.lastReportAt, now > last {
                    let rate = Double(used - previous) / Double(now - last)
                    projected += Int(rate * Double(periodEnd - now))
                    state.fleetCommandsPerMinute = rate * 60e9
                }
                return (projected, allowance)
            }
            let dayTotal = configuration.perDay != nil ? usedToday : usedThisMonth
            let projections = [
                project(used: usedToday, previous: configuration.perDay != nil ? state.lastFleetTotal : nil, allowance: configuration.perDay, periodEnd: (dayIndex + 1) * Self.day),
                project(used: usedThisMonth, previous: configuration.perDay == nil ? state.lastFleetTotal : nil, allowance: configuration.perMonth, periodEnd: (monthIndex + 1) * Self.month),
            ].compactMap { $0 }
            state.usedToday = usedToday
            state.usedThisMonth = usedThisMonth
            state.lastFleetTotal = dayTotal
            state.lastReportAt = now
            let over = projections.contains { $0.0 > $0.1 }
            let comfortable = projections.allSatisfy { Double($0.0) < 0.9 * Double($0.1) }
            state.projected = projections.map { $0.0 }.max() ?? 0
            if over {
                if state.level == .normal {
                    state.level = .nearCacheOnly
                    state.overSince = now
                } else if state.level == .nearCacheOnly, let since = state.overSince, since < now {
                    state.level = .localOnly
                }
            } else if comfortable, state.level > .normal {
                state.level = Level(rawValue: state.level.rawValue - 1)!
                state.overSince = state.level == .normal ? nil : now
            }
            return (old, state.level)
        }
        guard old != new else { return }
        gauge.record(new.rawValue)
        if new > old {
            logger.warning(
                "Redis command budget: projected usage exceeds the allowance, shedding",
                metadata: ["level": "\(new)", "projected": "\(status.projected)"]
            )
        } else {
            logger.notice("Redis command budget: back under the allowance", metadata: ["level": "\(new)"])
        }
    }
}
