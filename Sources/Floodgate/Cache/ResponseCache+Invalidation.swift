import FloodgateRedis
import Logging
import ServiceLifecycle

extension ResponseCache {
    var redisKeyPrefix: String { "\(configuration.keyPrefix):c:" }
    var invalidationChannel: String { "\(configuration.keyPrefix):cache-invalidations" }

    /// Chooses the invalidation stream and applies it to the near cache and the directory until shutdown.
    public func run() async throws {
        guard let client else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            // Switched off: not even the stream's set-up commands until it is on.
            do { try await self.redisSwitch.waitUntilOn() } catch { return }
            if self.configuration.invalidation == .automatic {
                // A cluster node notifies only its own subscribers of its own keys: tracking (on every primary's
                // connection) or publishing instead.
                if await self.keyspaceNotificationsAreOn(client), !client.isCluster {
                    await self.listen(client, to: .keyspace)
                    return
                }
                // Broadcast mode on the cache's prefix: every change to a cache key by another client (and every
                // expiry) is reported, whether or not this instance read it.
                let invalidations = client.invalidations()
                let status = await client.enableTracking(.broadcast(prefixes: [self.redisKeyPrefix], noLoop: true))
                if case .unavailable(let reason) = status {
                    self.logger.notice(
                        "CLIENT TRACKING unavailable and keyspace notifications off: writers publish invalidations",
                        metadata: ["reason": "\(reason)"]
                    )
                } else {
                    await self.listenForTracking(invalidations, client)
                    return
                }
            }
            await self.listen(client, to: .publish)
        }
    }

    // MARK: Choosing

    /// The `notify-keyspace-events` classes the directory needs: keyspace channel, generic (`del`, `expire`,
    /// `rename_*`), string (`set`), expired and evicted.
    static func missingKeyspaceClasses(in flags: String) -> String {
        let all = flags.contains("A")
        return String("K$gxe".filter { !flags.contains($0) && ($0 == "K" || !all) })
    }

    /// Whether the server sends the keyspace notifications the cache needs; with ``Configuration/configureKeyspaceNotifications``
    /// turns them on. Waits for Redis to answer; a server that refuses `CONFIG` has them off as far as we can tell.
    private func keyspaceNotificationsAreOn(_ client: RedisClient) async -> Bool {
        while !Task.isCancelled {
            do {
                let sender = client.labelled(.cache)
                let flags = try await sender.configGet("notify-keyspace-events")["notify-keyspace-events"] ?? ""
                let missing = Self.missingKeyspaceClasses(in: flags)
                if missing.isEmpty { return true }
                guard configuration.configureKeyspaceNotifications else { return false }
                try await sender.configSet("notify-keyspace-events", to: flags + missing)
                logger.notice("turned keyspace notifications on for the response cache", metadata: ["notify-keyspace-events": "\(flags + missing)"])
                return true
            } catch let error as RedisClientError where error.code == .server {
                logger.debug("cannot read notify-keyspace-events", metadata: ["reason": "\(error.message)"])
                return false
            } catch {
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return false
    }

    // MARK: Streams

    /// Keyspace notifications or published invalidations, on the client's pub/sub connection. A subscription that
    /// reconnects may have missed events: it is dropped, everything known is forgotten, and it starts afresh.
    private func listen(_ client: RedisClient, to mode: InvalidationMode) async {
        let keyspaceChannel = "__keyspace@\(client.configuration.database)__:"
        let skipped = keyspaceChannel.count + redisKeyPrefix.count
        while !Task.isCancelled {
            do {
                let subscription =
                    mode == .keyspace
                    ? try await client.subscribe(to: [], patterns: [keyspaceChannel + Self.globEscaped(redisKeyPrefix) + "*"], component: .cache)
                    : try await client.subscribe(to: [invalidationChannel], component: .cache)
                let epoch = streamStarted(mode)
                await withDiscardingTaskGroup { group in
                    group.addTask { await self.scanPrefix(epoch: epoch) }
                    for await event in subscription {
                        guard case .message(let message) = event else { break }  // reconnected
                        streamEvents.add(1, ordering: .relaxed)
                        let now = clock.now().nanosecondsSince1970
                        if mode == .keyspace {
                            guard message.channel.count > skipped else { continue }
                            applyKeyspaceEvent(message.text, key: String(message.channel.dropFirst(skipped)), at: now)
                        } else if let (tag, invalidation) = PublishedInvalidation.parse(message.text), tag != instanceTag {
                            apply(invalidation, at: now)
                        }
                    }
                }
            } catch {
                try? await Task.sleep(for: .seconds(1))
            }
            streamLost()
        }
    }

    private func listenForTracking(_ invalidations: AsyncStream<RedisInvalidation>, _ client: RedisClient) async {
        state.withLock { $0.mode = .tracking }
        reportMode(.tracking)
        await withDiscardingTaskGroup { group in
            for await invalidation in invalidations {
                switch invalidation {
                case .keys(let keys):
                    let now = clock.now().nanosecondsSince1970
                    state.withLock { state in
                        for key in keys where key.hasPrefix(redisKeyPrefix) {
                            streamEvents.add(1, ordering: .relaxed)
                            let key = String(key.dropFirst(redisKeyPrefix.count))
                            state.near.remove(key)
                            state.directory.changed(key, at: now)
                        }
                    }
                case .all:
                    streamLost()
                case .resumed:
                    let epoch = streamStarted(.tracking)
                    group.addTask { await self.scanPrefix(epoch: epoch) }
                }
            }
        }
    }

    /// A stream is up: nothing heard before counts (the near cache is flushed) and the directory scans.
    private func streamStarted(_ mode: InvalidationMode) -> Int {
        let epoch = state.withLock { state in
            state.mode = mode
            state.near.removeAll()
            state.ownEvents = [:]
            return state.directory.streamUpScanning()
        }
        reportMode(mode)
        return epoch
    }

    private func streamLost() {
        state.withLock { state in
            state.near.removeAll()
            state.ownEvents = [:]
            state.directory.streamLost()
        }
    }

    /// `SCAN` of the cache's prefix, so that the directory holds every key written before its stream came up
    /// (about one command per 1,000 keys of the database). Retried each second while Redis is unreachable, switched
    /// off or kept off by the budget, as long as the stream is up; when the server refuses `SCAN`, the directory
    /// waits for the horizon.
    private func scanPrefix(epoch: Int) async {
        while state.withLock({ $0.directory.scanIsCurrent(epoch) }) {
            guard let redis else {
                do { try await Task.sleep(for: .seconds(1)) } catch { return }
                continue
            }
            do {
                // Each primary of a cluster scans its own keys.
                for node in redis.primaryNodes() {
                    var cursor = "0"
                    repeat {
                        let (next, keys) = try await node.labelled(.cache).scan(cursor: cursor, match: Self.globEscaped(redisKeyPrefix) + "*", count: 1_000)
                        let now = clock.now().nanosecondsSince1970
                        state.withLock { $0.directory.scanFound(keys.lazy.map { String($0.dropFirst(self.redisKeyPrefix.count)) }, epoch: epoch, at: now) }
                        cursor = next
                    } while cursor != "0"
                }
                let now = clock.now().nanosecondsSince1970
                state.withLock { $0.directory.scanFinished(epoch: epoch, at: now) }
                return
            } catch let error as RedisClientError where error.code != .server {
                // Unreachable for now: the stream's loss (if it is lost) ends this scan's epoch.
                do { try await Task.sleep(for: .seconds(1)) } catch { return }
            } catch {
                let now = clock.now().nanosecondsSince1970
                state.withLock { $0.directory.scanFailed(epoch: epoch, at: now) }
                logger.notice("the cache directory cannot scan Redis: it waits for the longest TTL", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    // MARK: Events

    /// How many events this instance has heard on its invalidation stream (the simulator waits for other instances'
    /// writes to be heard before its next call, so that a replay does not depend on how fast they arrived).
    package var streamEventsHeard: Int { streamEvents.load(ordering: .acquiring) }

    func applyKeyspaceEvent(_ event: String, key: String, at now: Int64) {
        state.withLock { state in
            if let pending = state.ownEvents[key] {
                state.ownEvents[key] = pending > 1 ? pending - 1 : nil
                return
            }
            state.near.remove(key)
            switch event {
            case "del", "expired", "evicted", "rename_from", "move_from":
                state.directory.removed(key)
            default:
                // set, expire, rename_to, restore, copy_to, …: the key holds something.
                state.directory.written(key, expiresAt: nil, at: now)
            }
        }
    }

    func apply(_ invalidation: PublishedInvalidation, at now: Int64) {
        state.withLock { state in
            switch invalidation {
            case .written(let key, let expiresAtMs):
                state.near.remove(key)
                state.directory.written(key, expiresAt: expiresAtMs * 1_000_000, at: now)
            case .removed(let key):
                state.near.remove(key)
                state.directory.removed(key)
            case .changed(let key):
                state.near.remove(key)
                state.directory.written(key, expiresAt: nil, at: now)
            }
        }
    }

    /// A glob pattern matching `text` literally.
    static func globEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "*?[]\\".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

extension ResponseCache.State {
    /// Forgets up to `count` expected events of an own write whose fate is unknown (forgetting too many only
    /// invalidates this instance's own copy).
    mutating func forgetOwnEvents(_ key: String, _ count: Int) {
        guard let pending = ownEvents[key] else { return }
        ownEvents[key] = pending > count ? pending - count : nil
    }
}

/// A publish-mode invalidation: `<tag>/set/<expiresAtMs> <key>`, `<tag>/del <key>`, or the first format's
/// `<tag> <key>` (a change of unknown kind).
enum PublishedInvalidation: Equatable {
    case written(String, expiresAtMs: Int64)
    case removed(String)
    case changed(String)

    func message(from tag: String) -> String {
        switch self {
        case .written(let key, let expiresAtMs): "\(tag)/set/\(expiresAtMs) \(key)"
        case .removed(let key): "\(tag)/del \(key)"
        case .changed(let key): "\(tag) \(key)"
        }
    }

    static func parse(_ text: String) -> (tag: Substring, invalidation: PublishedInvalidation)? {
        guard let space = text.firstIndex(of: " ") else { return nil }
        let head = text[..<space]
        let key = String(text[text.index(after: space)...])
        let parts = head.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            return (head, .changed(key))
        case 2 where parts[1] == "del":
            return (parts[0], .removed(key))
        case 3 where parts[1] == "set":
            guard let expiresAtMs = Int64(parts[2]) else { return (parts[0], .changed(key)) }
            return (parts[0], .written(key, expiresAtMs: expiresAtMs))
        default:
            return (parts[0], .changed(key))
        }
    }
}
