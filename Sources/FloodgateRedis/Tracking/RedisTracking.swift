/// How the server tracks keys for client-side caching (`CLIENT TRACKING ON ...`).
public enum RedisTrackingMode: Sendable, Hashable {
    /// The server remembers the keys this connection read and invalidates those. `noLoop` skips invalidations for
    /// this client's own writes.
    case `default`(noLoop: Bool = false)
    /// The server invalidates every key with one of the prefixes (all keys when empty), read or not.
    case broadcast(prefixes: [String] = [], noLoop: Bool = false)
}

/// Whether client-side-caching invalidations are flowing.
public enum RedisTrackingStatus: Sendable, Hashable {
    /// Tracking was not asked for.
    case off
    /// Asked for, waiting for a connection to turn it on.
    case pending(RedisTrackingMode)
    /// On: invalidations are delivered.
    case on(RedisTrackingMode)
    /// The server refused or cannot do it (renamed command, ACL, RESP2); the reason says which.
    case unavailable(reason: String)
}

/// An invalidation from the server, or a reason to distrust everything cached.
public enum RedisInvalidation: Sendable, Hashable {
    /// These keys changed.
    case keys([String])
    /// Everything may have changed: the server flushed, or invalidations may have been lost.
    case all(reason: FlushReason)
    /// Tracking is on (again) on a connection: every change from now on is reported. What changed before, since
    /// the last `.all`, is unknown.
    case resumed

    public enum FlushReason: Sendable, Hashable {
        /// `FLUSHALL` / `FLUSHDB` on the server.
        case serverFlushed
        /// The connection dropped: invalidations sent meanwhile are lost.
        case connectionLost
        /// The client shut down.
        case clientShutdown
    }
}
