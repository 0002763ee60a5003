import FloodgateRESP
import FloodgateRedis

/// The fleet's record, in Redis, of who holds what of one window policy of one key: a hash with one entry per
/// instance that holds an explicit lease (capacity sized to its demand) or has ceded its allowance.
///
/// Every member that is past its joining wait has an *allowance* it may spend with no command (``PolicyPlan``'s
/// `allowanceTotal` over the members it counts). An instance that needs more writes an entry: `k` calls per window
/// until a time, in place of its allowance. The script admits it only as far as
///
///     Σ others' contributions + (allowances that may still be spent) + own contribution ≤ limit
///
/// holds for every window the lease can touch, where a contribution is what a holder can spend in any window its
/// entry reaches (`max(k, what it had spent when it wrote)`), and the allowances that may be spent are bounded by the
/// members eligible for one and the eligible holders whose entries cover the lease (they spend no allowance). See
/// `docs/ARCHITECTURE.md` for the argument. Entries are values tagged with their own times; key expiry only collects
/// garbage. One request costs `EVALSHA` + `HGETALL` + `HSET` + `PEXPIRE` (+ `PUBLISH` when it asks the fleet to cede).
public struct DemandLedger: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// Aligned windows: a lease covers whole windows (it ends at a window's end).
        case fixed
        /// Rolling windows (and token buckets counted as one).
        case rolling
    }

    public let kind: Kind
    /// Calls per window.
    public let limit: Int
    /// The part of the limit handed out as allowances (spent with no command).
    public let allowanceTotal: Int
    /// The window in nanoseconds.
    public let window: Int64
    /// The clock-skew bound in nanoseconds (each clock within this of real time).
    public let skew: Int64

    public init(kind: Kind, limit: Int, allowanceTotal: Int, window: Int64, skew: Int64) {
        precondition(limit >= 0 && allowanceTotal >= 0 && allowanceTotal <= limit && window > 0 && skew >= 0)
        self.kind = kind
        self.limit = limit
        self.allowanceTotal = allowanceTotal
        self.window = window
        self.skew = skew
    }

    /// How long a lease asked for at `time` lasts under contention: to the end of the window (fixed; at most a
    /// minute into a long one), or a window (rolling; at most a minute), so that capacity moves to where the calls
    /// are within a window and a key that runs hot costs about one request per instance per window. Without
    /// contention a lease lasts as long as a commitment (``cedeEnd(at:)``): a key that merely outgrew its allowance
    /// costs one request every ten windows.
    public func leaseEnd(at time: Int64) -> Int64 {
        let horizon: Int64 = 60_000_000_000
        switch kind {
        case .fixed:
            let end = (time.floorDivided(by: window) + 1) * window
            return end - time <= horizon ? end : time + horizon
        case .rolling:
            return time + min(window, horizon)
        }
    }

    /// For fixed windows: calls a holder whose lease ends at a window's end may make in that window's last
    /// skew-margin and count into the next window too (its clock may be ahead of real time), also what the ledger
    /// counts of it in the next window until it writes again.
    public func carry(of calls: Int) -> Int {
        guard kind == .fixed, calls > 0 else { return 0 }
        let skewMs = (skew + 999_999) / 1_000_000
        let windowMs = max(1, window / 1_000_000)
        return Int(Int64(calls) * 4 * skewMs / windowMs) + 1
    }

    /// How long a ceded allowance stays ceded: ten leases, so a key that stays hot costs a cede per instance every
    /// ten windows (fixed windows: to a window's end).
    public func cedeEnd(at time: Int64) -> Int64 {
        switch kind {
        case .fixed:
            let span = min(window * 10, max(window, 600_000_000_000))
            let end = (time + span).floorDivided(by: window) * window
            return max(end, leaseEnd(at: time))
        case .rolling:
            return time + 10 * min(window, 60_000_000_000)
        }
    }

    /// What one request says.
    public struct Request: Sendable, Hashable {
        /// The requesting instance.
        public var holder: String
        /// The holder's clock now, the lease's end (no new call after it), and the end of the holder's commitment to
        /// spend no allowance (nanoseconds since 1970).
        public var now: Int64
        public var until: Int64
        public var committedUntil: Int64
        /// Calls per window wanted (0: cede, keep only what was spent).
        public var want: Int
        /// Calls the holder has spent in the window ending now (fixed: in the window holding now).
        public var used: Int
        /// Calls per window the holder is offered (for fair shares under contention).
        public var demand: Int
        /// When the holder joined the fleet, and how long a member waits before it has an allowance.
        public var joinedAt: Int64
        public var eligibilityWait: Int64
        /// Members of the holder's view that may be eligible for an allowance before the lease ends (only these
        /// can count as committed: a member the holder does not count might not be counted by the spenders either).
        public var eligibleMembers: [String]
        /// The holder is leaving: it spends nothing after this entry (what it spent is the entry's contribution).
        public var leaving = false
        /// The channel to ask the fleet to cede on (nil: never ask), and the message.
        public var cedeChannel: String?
        public var cedeMessage: String

        public init(
            holder: String,
            now: Int64,
            until: Int64,
            committedUntil: Int64,
            want: Int,
            used: Int,
            demand: Int,
            joinedAt: Int64,
            eligibilityWait: Int64,
            eligibleMembers: [String],
            cedeChannel: String? = nil,
            cedeMessage: String = ""
        ) {
            self.holder = holder
            self.now = now
            self.until = until
            self.committedUntil = max(until, committedUntil)
            self.want = want
            self.used = used
            self.demand = demand
            self.joinedAt = joinedAt
            self.eligibilityWait = eligibilityWait
            self.eligibleMembers = eligibleMembers
            self.cedeChannel = cedeChannel
            self.cedeMessage = cedeMessage
        }
    }

    /// What the ledger answered.
    public struct Grant: Sendable, Hashable {
        /// Calls per window the holder may spend until ``until`` (at least what it had spent).
        public var calls: Int
        public var until: Int64
        /// When capacity can next return if less than wanted was granted (refuse locally until then).
        public var retryAt: Int64
        /// Whether the fleet was asked to cede allowances it does not use.
        public var askedToCede: Bool
        /// Whether less was granted than wanted.
        public var short: Bool
        /// Whether allowances that may lie unused stood in the way (a cede could relieve it).
        public var cedeWouldHelp = false
    }

    /// Asks for `request.want` calls per window until `request.until` (or, with `want` 0, cedes the allowance).
    public func request(_ request: Request, key: String, via redis: some RedisCommandSending) async throws -> Grant {
        let ms: (Int64) -> String = { String($0.floorDivided(by: 1_000_000)) }
        let reply = try await redis.evaluate(
            Self.script,
            keys: [key],
            arguments: [
                request.holder, ms(request.now), ms(request.until), ms(window), ms(skew + 999_999), ms(request.committedUntil),
                String(limit), String(allowanceTotal), String(request.eligibleMembers.count), ms(request.eligibilityWait),
                String(request.want), String(request.used), String(request.demand), ms(request.joinedAt),
                kind == .fixed ? "1" : "0", ms(4 * window + 4 * skew + 600_000_000_000),
                request.cedeChannel ?? "", request.cedeMessage, request.leaving ? "1" : "0",
            ] + request.eligibleMembers
        )
        let parts = try reply.elements()
        guard parts.count == 4 else { throw RedisClientError(.unexpectedReply, "lease script returned \(parts.count) values") }
        return Grant(
            calls: try parts[0].int(),
            until: request.until,
            retryAt: Int64(try parts[1].int()) * 1_000_000,
            askedToCede: try parts[2].int() == 1,
            short: try parts[0].int() < request.want,
            cedeWouldHelp: try parts[3].int() == 1
        )
    }

    /// KEYS[1] ledger hash: field = holder, value = `c:cp:from:since:leaseEnd:committedUntil:joined:demand:left`
    /// (times in ms): the holder spends at most `c` in any window its lease reaches, makes no call after `leaseEnd`,
    /// and spends no allowance from `from` to `committedUntil`; `cp` is what its earlier leases may still add near
    /// `since`; `left` (1) says it left the fleet after writing it.
    /// ARGV: holder, now, lease end, window, skew, committed until, limit, allowance total, eligible members,
    /// eligibility wait, want, used, demand, joined, fixed (1/0), key TTL, cede channel ("" none), cede message,
    /// leaving (1/0), then the eligible members' ids.
    /// Returns {calls granted, retry at (ms), asked to cede (1/0)}.
    static let script = RedisScript(
        """
        local me, T, U, W, d, C = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
        local L, S, m, wait = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
        local want, used, demand, joined = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
        local fixed = ARGV[15] == '1'
        local winStart = T
        if fixed then winStart = T - (T % W) end
        local function reaches(leaseEnd)
          if fixed then return leaseEnd > winStart end
          return leaseEnd + W + 4 * d > T
        end
        local function carry(c)
          if c <= 0 then return 0 end
          return math.floor(c * 4 * d / W) + 1
        end
        local counted = {}
        for i = 20, #ARGV do counted[ARGV[i]] = true end
        local raw = redis.call('HGETALL', KEYS[1])
        local others, covered, gone, demands, retry = 0, 0, 0, demand, nil
        local old = nil
        for i = 1, #raw, 2 do
          local f = {}
          for x in string.gmatch(raw[i + 1], '[^:]+') do f[#f + 1] = tonumber(x) end
          if raw[i] == me then
            old = f
          elseif #f == 9 then
            local c, cp, from, since, leaseEnd, til, jn, dm, left = f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]
            local share = 0
            if reaches(leaseEnd) then
              share = c
              if not fixed and since > T - 2 * d and cp > share then share = cp end
            elseif fixed and leaseEnd == winStart then
              share = carry(c)
            end
            if share > 0 then
              others = others + share
              if leaseEnd > T and (retry == nil or leaseEnd < retry) then retry = leaseEnd end
            end
            -- Demands said within the last window count for fair shares, so that the first request of a window
            -- already knows who else will ask.
            if leaseEnd + W > T then demands = demands + dm end
            local through = U + 2 * d
            if fixed then through = U end
            if counted[raw[i]] and til >= through and from <= T + 2 * d and jn + wait <= T - 2 * d then
              covered = covered + 1
            elseif counted[raw[i]] and left == 1 then
              -- Left the fleet: it spends nothing more (what it spent is its contribution), though it is counted.
              gone = gone + 1
            end
          end
        end
        if counted[me] and joined + wait <= T - 2 * d then covered = covered + 1 end
        local implicit = 0
        if m - gone > 0 then implicit = math.floor(S * math.max(0, m - covered - gone) / (m - gone)) end
        local room = L - others - implicit
        local grant = math.max(0, math.min(want, room))
        -- A fair part of the limit by demand (Doorman's proportional share): a holder asking for more than its part
        -- would strand permits others will ask for.
        if want > 0 and grant > 0 and demands > 0 then
          grant = math.min(grant, math.max(used + 1, math.ceil(L * math.max(1, demand) / math.max(demands, 1))))
        end
        local contribution = math.max(used, grant)
        local cp, from = 0, T
        if old and #old == 9 then
          local oc, ocp, ofrom, osince, oend, otil = old[1], old[2], old[3], old[4], old[5], old[6]
          if not fixed and reaches(oend) then
            cp = oc
            if osince > T - 2 * d and ocp > cp then cp = ocp end
          end
          if otil + 2 * d >= T then from = ofrom end
        end
        redis.call('HSET', KEYS[1], me, contribution .. ':' .. cp .. ':' .. from .. ':' .. T .. ':' .. U .. ':' .. C .. ':' .. joined .. ':' .. demand .. ':' .. ARGV[19])
        redis.call('PEXPIRE', KEYS[1], ARGV[16])
        local asked = 0
        local cedeWouldHelp = want > 0 and room < want and implicit > 0
        if cedeWouldHelp and ARGV[17] ~= '' then
          redis.call('PUBLISH', ARGV[17], ARGV[18])
          asked = 1
        end
        if asked == 1 then
          retry = T + 50
        elseif fixed then
          if retry == nil or retry > winStart + W then retry = winStart + W end
        elseif retry == nil then
          retry = T + math.max(100, math.floor(W / 10))
        end
        local helps = 0
        if cedeWouldHelp then helps = 1 end
        return {grant, math.max(retry, T + 1), asked, helps}
        """
    )
}
