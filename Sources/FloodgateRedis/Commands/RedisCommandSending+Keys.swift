import FloodgateRESP
import NIOCore

/// When a key set with ``RedisCommandSending/set(_:to:expiration:condition:)`` expires.
public enum RedisExpiration: Sendable, Hashable {
    case seconds(Int)
    case milliseconds(Int)
    /// Keep the key's current time to live (`KEEPTTL`).
    case keepTTL
}

/// A condition on ``RedisCommandSending/set(_:to:expiration:condition:)``.
public enum RedisSetCondition: Sendable, Hashable {
    /// `NX`: only if the key does not exist.
    case ifNotExists
    /// `XX`: only if the key exists.
    case ifExists
}

extension RedisCommandSending {
    /// `GET key`: the value, or nil when the key does not exist.
    public func get(_ key: String) async throws -> ByteBuffer? {
        try await send(RedisCommand("GET", key)).optionalBytes()
    }

    /// `GET key` as text.
    public func getString(_ key: String) async throws -> String? {
        try await send(RedisCommand("GET", key)).optionalString()
    }

    /// `SET key value [EX|PX|KEEPTTL] [NX|XX]`: whether the value was set (false when a condition failed).
    @discardableResult
    public func set(
        _ key: String,
        to value: some RESPArgument,
        expiration: RedisExpiration? = nil,
        condition: RedisSetCondition? = nil
    ) async throws -> Bool {
        var count = 2
        if let expiration { count += expiration == .keepTTL ? 1 : 2 }
        if condition != nil { count += 1 }
        let command = RedisCommand("SET", argumentCount: count) { buffer in
            key.writeBulkString(into: &buffer)
            value.writeBulkString(into: &buffer)
            switch expiration {
            case .seconds(let s)?:
                "EX".writeBulkString(into: &buffer)
                s.writeBulkString(into: &buffer)
            case .milliseconds(let ms)?:
                "PX".writeBulkString(into: &buffer)
                ms.writeBulkString(into: &buffer)
            case .keepTTL?:
                "KEEPTTL".writeBulkString(into: &buffer)
            case nil: break
            }
            switch condition {
            case .ifNotExists?: "NX".writeBulkString(into: &buffer)
            case .ifExists?: "XX".writeBulkString(into: &buffer)
            case nil: break
            }
        }
        let reply = try await send(command)
        return reply != .null
    }

    /// `MGET key...`: one value or nil per key, in order.
    public func mget(_ keys: [String]) async throws -> [ByteBuffer?] {
        guard !keys.isEmpty else { return [] }
        return try await send(RedisCommand("MGET", arguments: keys)).elements().map { try $0.optionalBytes() }
    }

    /// `DEL key...`: how many keys were removed.
    @discardableResult
    public func del(_ keys: String...) async throws -> Int {
        try await send(RedisCommand("DEL", arguments: keys)).int()
    }

    /// `EXISTS key...`: how many of the keys exist.
    public func exists(_ keys: String...) async throws -> Int {
        try await send(RedisCommand("EXISTS", arguments: keys)).int()
    }

    /// `INCRBY key increment`: the new value.
    @discardableResult
    public func incrby(_ key: String, by increment: Int = 1) async throws -> Int {
        try await send(RedisCommand("INCRBY", key, increment)).int()
    }

    /// `EXPIRE key seconds`: whether a timeout was set.
    @discardableResult
    public func expire(_ key: String, seconds: Int) async throws -> Bool {
        try await send(RedisCommand("EXPIRE", key, seconds)).int() == 1
    }

    /// `PEXPIRE key milliseconds`: whether a timeout was set.
    @discardableResult
    public func pexpire(_ key: String, milliseconds: Int) async throws -> Bool {
        try await send(RedisCommand("PEXPIRE", key, milliseconds)).int() == 1
    }

    /// `SCAN cursor [MATCH pattern] [COUNT count]`: the next cursor ("0" when the iteration is over) and this
    /// step's keys. Every key present for the whole iteration is returned at least once.
    public func scan(cursor: String = "0", match pattern: String? = nil, count: Int? = nil) async throws -> (cursor: String, keys: [String]) {
        var arguments = [cursor]
        if let pattern { arguments += ["MATCH", pattern] }
        if let count { arguments += ["COUNT", String(count)] }
        let reply = try await send(RedisCommand("SCAN", arguments: arguments)).elements()
        guard reply.count == 2, let next = try reply[0].optionalString() else {
            throw RedisClientError(.unexpectedReply, "SCAN did not return a cursor and a list of keys")
        }
        let keys = try reply[1].elements().map { element -> String in
            guard let key = try element.optionalString() else { throw RedisClientError(.unexpectedReply, "SCAN returned a null key") }
            return key
        }
        return (next, keys)
    }

    /// `PTTL key`: milliseconds to live; -1 without expiry, -2 when the key does not exist.
    public func pttl(_ key: String) async throws -> Int {
        try await send(RedisCommand("PTTL", key)).int()
    }

    /// `HGETALL key`: the hash's fields and values.
    public func hgetall(_ key: String) async throws -> [String: ByteBuffer] {
        let pairs = try await send(RedisCommand("HGETALL", key)).pairs()
        var result: [String: ByteBuffer] = [:]
        for pair in pairs {
            guard let field = try pair.key.optionalString(), let value = try pair.value.optionalBytes() else {
                throw RedisClientError(.unexpectedReply, "HGETALL returned a null field or value")
            }
            result[field] = value
        }
        return result
    }

    /// `HGET key field`.
    public func hget(_ key: String, field: String) async throws -> ByteBuffer? {
        try await send(RedisCommand("HGET", key, field)).optionalBytes()
    }

    /// `HSET key field value [field value ...]`: how many fields were added.
    @discardableResult
    public func hset(_ key: String, fields: [(String, String)]) async throws -> Int {
        precondition(!fields.isEmpty, "HSET needs at least one field")
        let command = RedisCommand("HSET", argumentCount: 1 + fields.count * 2) { buffer in
            key.writeBulkString(into: &buffer)
            for (field, value) in fields {
                field.writeBulkString(into: &buffer)
                value.writeBulkString(into: &buffer)
            }
        }
        return try await send(command).int()
    }

    /// `HINCRBY key field increment`: the new value.
    @discardableResult
    public func hincrby(_ key: String, field: String, by increment: Int) async throws -> Int {
        try await send(RedisCommand("HINCRBY", key, field, increment)).int()
    }

    /// `PUBLISH channel message`: how many subscribers received it.
    @discardableResult
    public func publish(_ message: some RESPArgument, to channel: String) async throws -> Int {
        try await send(RedisCommand("PUBLISH", channel, message)).int()
    }
}
