import FloodgateRESP
import FloodgateRedis

/// The ledger's one Redis interaction: a lease request as one script call.
extension DemandLedger {
    /// Asks for `request.want` calls per window until `request.until` (or, with `want` 0, cedes the allowance).
    package func request(_ request: Request, key: String, via redis: some RedisCommandSending) async throws -> Grant {
        let ms: (Int64) -> String = { String($0.floorDivided(by: 1_000_000)) }
        let reply = try await redis.evaluate(
            Self.script,
            keys: [key],
            arguments: [
                request.holder, ms(request.now), ms(request.until), ms(window), ms(skew + 999_999), ms(request.committedUntil),
                String(limit), String(allowanceTotal), String(request.eligibleMembers.count), ms(request.eligibilityWait),
                String(request.want), String(request.used), String(request.demand), ms(request.joinedAt),
                kind == .fixed ? "1" : "0", ms(keyTTL(for: request)),
                request.cedeChannel ?? "", request.cedeMessage, request.leaving ? "1" : "0", String(onePermitEachUpTo),
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

    /// The ledger hash's field holding when the hash expires; the space keeps it apart from every holder's id.
    package static let expiryField = " expires"

    /// How long the ledger must live after this request: past the end of every lease it records (each entry counts
    /// for a window and four skews after its lease ends), and never less than four windows and four skews, with ten
    /// minutes to spare (a commitment's ceiling, and room for clocks and delays; see ``expiryField``).
    package func keyTTL(for request: Request) -> Int64 {
        max(4 * window + 4 * skew, request.until - request.now + window + 4 * skew) + 600_000_000_000
    }

    /// KEYS[1] ledger hash: field = holder, value = `c:cp:from:since:leaseEnd:committedUntil:joined:demand:left`
    /// (times in ms): the holder spends at most `c` in any window its lease reaches, makes no call after `leaseEnd`,
    /// and spends no allowance from `from` to `committedUntil`; `cp` is what its earlier leases may still add near
    /// `since`; `left` (1) says it left the fleet after writing it.
    /// ARGV: holder, now, lease end, window, skew, committed until, limit, allowance total, eligible members,
    /// eligibility wait, want, used, demand, joined, fixed (1/0), key TTL, cede channel ("" none), cede message,
    /// leaving (1/0), one permit each up to (members), then the eligible members' ids.
    /// The field ``expiryField`` (` expires`) is when the hash expires, on the clock of the holder that last set it.
    /// Every call leaves the hash at least the key TTL to live, as `PEXPIRE` on each call would, but sets twice that,
    /// so `PEXPIRE` (a billed command) runs about once per TTL instead of on every request. A reader's clock off by the
    /// skew bound, or a script delayed in flight, leaves it less than the TTL by that much; the TTL's ten minutes over
    /// what any entry needs (its lease end, a window and four skews) cover it.
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
        for i = 21, #ARGV do counted[ARGV[i]] = true end
        local raw = redis.call('HGETALL', KEYS[1])
        local others, covered, gone, demands, retry = 0, 0, 0, demand, nil
        local old, expires = nil, nil
        for i = 1, #raw, 2 do
          local f = {}
          for x in string.gmatch(raw[i + 1], '[^:]+') do f[#f + 1] = tonumber(x) end
          if raw[i] == '\(expiryField)' then
            expires = f[1]
          elseif raw[i] == me then
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
        -- s members spending allowances each count at least s + covered members, and an allowance never grows with
        -- the count: together at most s * allowance(s + covered), for s up to m - covered - gone.
        local implicit, spenders, F = 0, math.max(0, m - covered - gone), tonumber(ARGV[20])
        if m - gone > 0 then implicit = math.floor(S * spenders / (m - gone)) end
        implicit = math.max(implicit, math.min(spenders, math.max(0, F - covered)))
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
        local entry = contribution .. ':' .. cp .. ':' .. from .. ':' .. T .. ':' .. U .. ':' .. C .. ':' .. joined .. ':' .. demand .. ':' .. ARGV[19]
        local ttl = tonumber(ARGV[16])
        if expires ~= nil and expires - T >= ttl then
          redis.call('HSET', KEYS[1], me, entry)
        else
          redis.call('HSET', KEYS[1], me, entry, '\(expiryField)', T + 2 * ttl)
          redis.call('PEXPIRE', KEYS[1], 2 * ttl)
        end
        local asked = 0
        local cedeWouldHelp = want > 0 and room < want and implicit > 0
        if cedeWouldHelp and ARGV[17] ~= '' then
          -- The ask says how many calls it is short and how many members may cede, so that about enough answer.
          redis.call('PUBLISH', ARGV[17], ARGV[18] .. ' ' .. (want - math.max(0, room)) .. ' ' .. spenders .. ' ' .. me)
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
