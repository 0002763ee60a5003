/// Which of the response cache's keys may exist in Redis, learnt from the invalidation stream at no command cost, so
/// that a near-cache miss reads Redis only when the key may be there.
///
/// A pure state machine: events in (a key written, removed or changed, a stream lost or re-established, a bootstrap
/// scan's findings, a read's result), answers out. Times are nanoseconds since 1970 on the cache's clock.
///
/// The directory is *complete* when every key that exists in Redis is in it: the stream has been up since a
/// bootstrap `SCAN` of the prefix finished (keys written before the scan were found by it, keys written after it are
/// in the stream), or for longer than the longest TTL any writer may use (``horizon``). Only a complete directory
/// answers ``Answer/absent``; otherwise it answers ``Answer/unknown`` and the cache reads Redis as it would without
/// one. Every doubt resolves towards "may exist": a wrong "may exist" costs one `GET`, a wrong "absent" would cost a
/// hit (a load from the source), so the directory never guesses one.
struct CacheDirectory: Sendable {
    /// What the directory says about a key.
    enum Answer: Equatable {
        /// Nothing is known (the directory is not complete): read Redis.
        case unknown
        /// The key may hold a value: read Redis, then report the result with this version.
        case mayExist(version: UInt64)
        /// The key holds no value that this cache could serve: no read.
        case absent
    }

    private struct Entry {
        /// When the value expires (on the writer's clock, as stored in the value), when known.
        var expiresAt: Int64?
        /// The last event about the key: with an unknown expiry it exists at most until `since + horizon`.
        var since: Int64
        var version: UInt64
    }

    /// How completeness was reached, or why it is not.
    enum Completeness: String, Sendable, Hashable {
        /// No stream yet, or it was lost.
        case waitingForStream
        /// The stream is up and the bootstrap scan runs.
        case scanning
        /// The stream is up; complete once it has been up for the horizon (no scan possible, or the directory
        /// overflowed).
        case waitingForHorizon
        case complete
    }

    let maximumEntries: Int
    let maximumBytes: Int
    /// The longest TTL a writer may set (nanoseconds).
    let horizon: Int64

    private var entries: [String: Entry] = [:]
    private(set) var bytes = 0
    private var nextVersion: UInt64 = 1
    private var state = Completeness.waitingForStream
    private var completeAt: Int64 = .max
    private var scanEpoch = 0
    /// Keys the directory could not hold since it was last complete.
    private(set) var overflows = 0
    /// Sweeps for room run at most once a second (a directory that stays full drops new keys instead).
    private var nextSweepAt: Int64 = .min

    init(maximumEntries: Int, maximumBytes: Int, horizon: Duration) {
        self.maximumEntries = maximumEntries
        self.maximumBytes = maximumBytes
        self.horizon = horizon.nanoseconds
        entries.reserveCapacity(min(maximumEntries, 1 << 16))
    }

    var count: Int { entries.count }

    func completeness(at now: Int64) -> Completeness {
        state == .waitingForHorizon && now >= completeAt ? .complete : state
    }

    // MARK: Answers

    mutating func answer(_ key: String, at now: Int64) -> Answer {
        // Without a stream, even what the entries say may have changed unseen.
        guard state != .waitingForStream else { return .unknown }
        guard let entry = entries[key] else { return completeness(at: now) == .complete ? .absent : .unknown }
        if let expiresAt = entry.expiresAt, now >= expiresAt {
            // Past its expiry the value is of no use to this cache, whatever Redis still holds.
            return .absent
        }
        if entry.expiresAt == nil, now >= entry.since + horizon {
            entries[key] = nil
            bytes -= Self.size(of: key)
            return completeness(at: now) == .complete ? .absent : .unknown
        }
        return .mayExist(version: entry.version)
    }

    // MARK: Events from the stream (or this cache's own writes)

    /// The key was written: it holds a value, expiring at `expiresAt` when the writer said.
    mutating func written(_ key: String, expiresAt: Int64?, at now: Int64) {
        store(key, Entry(expiresAt: expiresAt, since: now, version: 0), at: now)
    }

    /// The key was deleted, expired or evicted.
    mutating func removed(_ key: String) {
        guard entries.removeValue(forKey: key) != nil else { return }
        bytes -= Self.size(of: key)
    }

    /// The key changed in a way the event does not say (a `CLIENT TRACKING` invalidation: a write, a delete or an
    /// expiry): it may exist, expiry unknown, until a read or the horizon says more. No guess is made even when the
    /// key's known expiry has passed: Redis sends one invalidation for all the changes to a key in one turn of its
    /// event loop, so the expiry of a key and a write that lands on it before Redis deleted it arrive as one.
    mutating func changed(_ key: String, at now: Int64) {
        written(key, expiresAt: nil, at: now)
    }

    // MARK: Reads

    /// A `GET` sent while the key's entry had `version` found a value expiring at `expiresAt`.
    mutating func readFound(_ key: String, expiresAt: Int64, version: UInt64?) {
        guard let version, var entry = entries[key], entry.version == version else { return }
        entry.expiresAt = expiresAt
        entries[key] = entry
    }

    /// A `GET` sent while the key's entry had `version` found nothing: unless an event came meanwhile, it is absent.
    mutating func readFoundNothing(_ key: String, version: UInt64?) {
        guard let version, let entry = entries[key], entry.version == version else { return }
        removed(key)
    }

    // MARK: The stream

    /// The stream is down or may have missed events: nothing is known.
    mutating func streamLost() {
        entries.removeAll(keepingCapacity: true)
        bytes = 0
        state = .waitingForStream
        completeAt = .max
        scanEpoch += 1
    }

    /// The stream is up and a bootstrap scan starts: returns its epoch, for ``scanFound(_:epoch:at:)`` and
    /// ``scanFinished(epoch:)``.
    mutating func streamUpScanning() -> Int {
        scanEpoch += 1
        state = .scanning
        overflows = 0
        return scanEpoch
    }

    /// The stream is up and no scan can run: complete once it has been up for the horizon.
    mutating func streamUpWithoutScan(at now: Int64) {
        scanEpoch += 1
        state = .waitingForHorizon
        completeAt = now + horizon
    }

    /// Keys the scan found: each may exist (unless an event already said more).
    mutating func scanFound(_ keys: some Sequence<String>, epoch: Int, at now: Int64) {
        guard epoch == scanEpoch else { return }
        for key in keys where entries[key] == nil { written(key, expiresAt: nil, at: now) }
    }

    mutating func scanFinished(epoch: Int, at now: Int64) {
        guard epoch == scanEpoch, state == .scanning else { return }
        if overflows > 0 {
            state = .waitingForHorizon
            completeAt = now + horizon
        } else {
            state = .complete
        }
    }

    /// Whether the scan of `epoch` still counts (no stream lost or restarted since it began).
    func scanIsCurrent(_ epoch: Int) -> Bool { epoch == scanEpoch && state == .scanning }

    /// The scan could not finish (Redis unreachable, `SCAN` refused, the budget shedding): wait for the horizon.
    mutating func scanFailed(epoch: Int, at now: Int64) {
        guard epoch == scanEpoch, state == .scanning else { return }
        state = .waitingForHorizon
        completeAt = now + horizon
    }

    // MARK: Storage

    private static func size(of key: String) -> Int { key.utf8.count + 48 }

    private mutating func store(_ key: String, _ entry: Entry, at now: Int64) {
        var entry = entry
        entry.version = nextVersion
        nextVersion += 1
        if entries.updateValue(entry, forKey: key) != nil { return }
        bytes += Self.size(of: key)
        if entries.count > maximumEntries || bytes > maximumBytes { makeRoom(keeping: key, at: now) }
    }

    /// Drops entries that no longer matter (expired, or past the horizon); if that is not enough, drops the new key
    /// and stops being complete until everything it could have said has expired.
    private mutating func makeRoom(keeping key: String, at now: Int64) {
        if now >= nextSweepAt {
            nextSweepAt = now + 1_000_000_000
            let stale = entries.compactMap { candidate, entry -> String? in
                let expired = entry.expiresAt.map { now >= $0 } ?? (now >= entry.since + horizon)
                return expired && candidate != key ? candidate : nil
            }
            for candidate in stale { removed(candidate) }
        }
        guard entries.count > maximumEntries || bytes > maximumBytes else { return }
        removed(key)
        overflows += 1
        switch state {
        case .complete:
            state = .waitingForHorizon
            completeAt = now + horizon
        case .waitingForHorizon:
            completeAt = max(completeAt, now + horizon)
        case .scanning, .waitingForStream:
            break  // a scan that finishes with overflows waits for the horizon
        }
    }
}
