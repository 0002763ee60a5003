import FloodgateRESP

/// A Lua script run with `EVALSHA`, which loads itself (by `EVAL`) when the server answers `NOSCRIPT` — after a
/// restart, a failover or `SCRIPT FLUSH` — so callers never handle that themselves.
public struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    public let source: String
    /// The SHA-1 of the source, as Redis names it.
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hexDigest(source.utf8)
    }
}

extension RedisCommandSending {
    /// Runs a script by `EVALSHA`; on `NOSCRIPT` sends it once by `EVAL` (which also caches it on the server).
    public func evaluate(_ script: RedisScript, keys: [String] = [], arguments: [String] = []) async throws -> RESPValue {
        do {
            return try await send(Self.scriptCommand("EVALSHA", script.sha1, keys: keys, arguments: arguments))
        } catch let error as RedisClientError where error.isServerError("NOSCRIPT") {
            return try await send(Self.scriptCommand("EVAL", script.source, keys: keys, arguments: arguments))
        }
    }

    /// `SCRIPT LOAD`: caches the script on the server ahead of its first use; returns the server's SHA-1.
    @discardableResult
    public func load(_ script: RedisScript) async throws -> String {
        try await send(RedisCommand("SCRIPT LOAD", script.source)).optionalString() ?? ""
    }

    private static func scriptCommand(_ name: String, _ body: String, keys: [String], arguments: [String]) -> RedisCommand {
        RedisCommand(name, argumentCount: 2 + keys.count + arguments.count) { buffer in
            body.writeBulkString(into: &buffer)
            keys.count.writeBulkString(into: &buffer)
            for key in keys { key.writeBulkString(into: &buffer) }
            for argument in arguments { argument.writeBulkString(into: &buffer) }
        }
    }
}
