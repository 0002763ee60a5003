import FloodgateRESP
import FloodgateRedis

/// Everything Floodgate asks of Redis, each command labelled with the component it serves. Every call takes the
/// caller's time as an argument (no `TIME`), so replays run on virtual time; Redis key expiry only collects garbage.
struct FleetRedis: Sendable {
    let client: RedisClient
    let schema: RedisKeySchema
    let instanceID: String
    let events = FleetEventCounts()

    var membersKey: String { schema.fleetKey("members") }
    var stateKey: String { schema.fleetKey("state") }
    var eventsChannel: String { schema.fleetKey("events") }

    // MARK: Membership

    /// Reads the fleet's membership (`ZRANGE`), first renewing this instance's to expire at `renewUntil` (`ZADD`)
    /// unless it is nil, plus `ZREMRANGEBYSCORE` of members gone longer than `retention` when `collect` is set, and a
    /// `ZREM` of the entry joined at `replacing` (after the new one is written, so no reader ever misses this member).
    func heartbeat(
        joinedAt: Int64,
        renewUntil: Int64?,
        now: Int64,
        retention: Int64,
        collect: Bool,
        replacing: Int64? = nil
    ) async throws -> [MembershipView.Member] {
        let member = "\(instanceID)|\(joinedAt / 1_000_000)"
        var commands: [RedisCommand] = []
        if let renewUntil { commands.append(RedisCommand("ZADD", membersKey, String(renewUntil / 1_000_000), member)) }
        if let replacing { commands.append(RedisCommand("ZREM", membersKey, "\(instanceID)|\(replacing / 1_000_000)")) }
        if collect {
            commands.append(RedisCommand("ZREMRANGEBYSCORE", membersKey, "-inf", "(\((now - retention) / 1_000_000)"))
        }
        commands.append(RedisCommand("ZRANGE", membersKey, "0", "-1", "WITHSCORES"))
        let replies = try await client.pipeline(commands, component: .membership)
        let range = try replies[replies.count - 1].get().elements()
        var pairs: [(String, Double)] = []
        if range.first.map({ if case .array = $0 { return true } else { return false } }) == true {
            for pair in range {  // RESP3: [[member, score], ...]
                let parts = try pair.elements()
                guard parts.count == 2, let name = parts[0].string else { continue }
                pairs.append((name, try parts[1].double()))
            }
        } else {
            var index = 0
            while index + 1 < range.count {  // RESP2: [member, score, member, score, ...]
                if let name = range[index].string { pairs.append((name, try range[index + 1].double())) }
                index += 2
            }
        }
        for reply in replies { _ = try reply.get() }
        return MembershipView.members(fromRange: pairs)
    }

    // MARK: Events

    /// Records an event in the fleet's state hash and publishes it: one script (`HSET`/`HDEL`, `PEXPIRE`, `PUBLISH`).
    func publish(_ event: FleetEvent, keepFor: Int64, component: RedisComponent) async throws {
        let (field, value) = event.stateField
        _ = try await client.labelled(component).evaluate(
            Self.eventScript,
            keys: [stateKey],
            arguments: [field, value, String(max(1, keepFor / 1_000_000)), eventsChannel, event.message(from: instanceID)]
        )
        events.published.add(1, ordering: .relaxed)
    }

    /// The events in the fleet's state hash: breakers open or forced, back-offs in force (`HGETALL`).
    func currentEvents(component: RedisComponent) async throws -> [FleetEvent] {
        let fields = try await client.labelled(component).hgetall(stateKey)
        return fields.compactMap { field, value in FleetEvent.fromState(field: field, value: String(buffer: value)) }
    }

    /// KEYS[1] state hash. ARGV: field, value ("" deletes), keep-for ms, channel, message.
    static let eventScript = RedisScript(
        """
        if ARGV[2] == '' then
          redis.call('HDEL', KEYS[1], ARGV[1])
        else
          redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
          if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
        end
        return redis.call('PUBLISH', ARGV[4], ARGV[5])
        """
    )

    // MARK: Breakers

    /// Adds this instance's breaker evidence to the fleet's and returns the sums of the reports younger than
    /// `window`: one pipeline of `HSET` (a field per instance: `time:calls:failures:slow:failuresInARow`), `PEXPIRE`
    /// and `HGETALL` — three commands, where a script doing the same is billed four on a pay-per-command Redis. A
    /// field without the run (an instance of an earlier version during a rolling deploy) counts as a run of 0.
    func reportBreaker(key: String, evidence: BreakerEvidence, now: Int64, window: Int64) async throws -> BreakerEvidence {
        let totals = evidence.window
        let replies = try await client.pipeline(
            [
                RedisCommand(
                    "HSET", key, instanceID,
                    "\(now):\(totals.calls):\(totals.failures):\(totals.slow):\(evidence.failureRun)"
                ),
                RedisCommand("PEXPIRE", key, String(max(1_000, 2 * window / 1_000_000))),
                RedisCommand("HGETALL", key),
            ],
            component: .breaker
        )
        let oldest = now - window
        var sums = BreakerEvidence()
        for pair in try replies[2].get().pairs() {
            let fields = (try pair.value.optionalString() ?? "").split(separator: ":")
            guard fields.count == 4 || fields.count == 5, let time = Int64(fields[0]), time >= oldest,
                let calls = Int(fields[1]), let failures = Int(fields[2]), let slow = Int(fields[3])
            else { continue }
            let run = fields.count == 5 ? Int(fields[4]) ?? 0 : 0
            sums = sums + BreakerEvidence(window: .init(calls: calls, failures: failures, slow: slow), failureRun: run)
        }
        return sums
    }

    /// Asks for one of the fleet's `probes` half-open probes of the open period ending at `epoch` (one script:
    /// `HINCRBY`, `PEXPIRE`). Returns whether this probe may go out.
    func takeProbe(key: String, epoch: Int64, probes: Int) async throws -> Bool {
        let reply = try await client.labelled(.breaker).evaluate(
            Self.probeScript,
            keys: [key],
            arguments: ["probe:\(epoch)", String(probes), "600000"]
        )
        return try reply.int() >= 1
    }

    /// Records a successful probe of the period ending at `epoch`; returns whether the fleet's probes all succeeded.
    func probeSucceeded(key: String, epoch: Int64, probes: Int) async throws -> Bool {
        let reply = try await client.labelled(.breaker).evaluate(
            Self.probeScript,
            keys: [key],
            arguments: ["ok:\(epoch)", String(probes), "600000"]
        )
        return try reply.int() == 2
    }

    /// KEYS[1] breaker hash. ARGV: counter field, probes, TTL ms. Returns 1 while the counter is within the probes,
    /// 2 when it reaches them exactly, 0 beyond.
    static let probeScript = RedisScript(
        """
        local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        local probes = tonumber(ARGV[2])
        if n == probes then return 2 end
        if n < probes then return 1 end
        return 0
        """
    )

    // MARK: Concurrency

    /// Takes one of the pool's `limit` concurrency leases, expiring at `expiresAt` (one script: `ZREMRANGEBYSCORE`,
    /// `ZCARD`, `ZADD`). Returns whether it was granted.
    func takeConcurrencyLease(key: String, lease: String, limit: Int, now: Int64, expiresAt: Int64, skew: Int64) async throws -> Bool {
        let reply = try await client.labelled(.rateLimit).evaluate(
            Self.concurrencyScript,
            keys: [key],
            arguments: [
                String((now - skew) / 1_000_000), String(limit), String(expiresAt / 1_000_000), lease,
                String(max(1_000, (expiresAt - now + skew) / 1_000_000 + 1_000)),
            ]
        )
        return try reply.int() == 1
    }

    /// Releases a concurrency lease (`ZREM`).
    func releaseConcurrencyLease(key: String, lease: String) async throws {
        _ = try await client.send(RedisCommand("ZREM", key, lease), component: .rateLimit)
    }

    /// KEYS[1] lease set scored by expiry (ms). ARGV: expired before (ms), limit, this lease's expiry, lease id, TTL.
    static let concurrencyScript = RedisScript(
        """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
        redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        return 1
        """
    )
}
