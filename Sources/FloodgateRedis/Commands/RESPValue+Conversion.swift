import FloodgateRESP
import NIOCore

extension RESPValue {
    /// Throws the server's error reply as a ``RedisClientError`` with code ``RedisClientError/Code/server``.
    @inlinable
    public func throwingServerError() throws(RedisClientError) -> RESPValue {
        switch self {
        case .simpleError(let message), .bulkError(let message):
            throw RedisClientError(.server, String(buffer: message))
        case .attributed(_, let value):
            return try value.throwingServerError()
        default:
            return self
        }
    }

    func unexpected(_ expected: String) -> RedisClientError {
        RedisClientError(.unexpectedReply, "expected \(expected), got \(self)")
    }

    /// The payload of a bulk or simple string, or nil for a null reply.
    public func optionalBytes() throws(RedisClientError) -> ByteBuffer? {
        switch self {
        case .bulkString(let b), .simpleString(let b), .verbatimString(_, let b): return b
        case .null: return nil
        default: throw unexpected("a string or null")
        }
    }

    /// A string reply as text, or nil for a null reply.
    public func optionalString() throws(RedisClientError) -> String? {
        try optionalBytes().map { String(buffer: $0) }
    }

    /// An integer reply (RESP3 booleans count as 0 or 1).
    public func int() throws(RedisClientError) -> Int {
        switch self {
        case .integer(let value): return Int(value)
        case .boolean(let value): return value ? 1 : 0
        case .bulkString(let b), .simpleString(let b):
            if let value = Int(String(buffer: b)) { return value }
            throw unexpected("an integer")
        default: throw unexpected("an integer")
        }
    }

    /// A double reply (RESP3 doubles or RESP2 bulk strings holding a number).
    public func double() throws(RedisClientError) -> Double {
        switch self {
        case .double(let value): return value
        case .integer(let value): return Double(value)
        case .bulkString(let b), .simpleString(let b):
            if let value = Double(String(buffer: b)) { return value }
            throw unexpected("a double")
        default: throw unexpected("a double")
        }
    }

    /// The elements of an array, set or push.
    public func elements() throws(RedisClientError) -> [RESPValue] {
        switch self {
        case .array(let values), .set(let values), .push(let values): return values
        default: throw unexpected("an array")
        }
    }

    /// Key/value pairs of a RESP3 map, or of a RESP2 flat array `[k1, v1, k2, v2, ...]`.
    public func pairs() throws(RedisClientError) -> [RESPMapEntry] {
        switch self {
        case .map(let entries): return entries
        case .array(let values) where values.count % 2 == 0:
            return stride(from: 0, to: values.count, by: 2).map { RESPMapEntry(key: values[$0], value: values[$0 + 1]) }
        default: throw unexpected("a map")
        }
    }

    /// `+OK`.
    public func expectOK() throws(RedisClientError) {
        guard case .simpleString(let b) = self, b.readableBytesView.elementsEqual("OK".utf8) else {
            throw unexpected("OK")
        }
    }
}
