import NIOCore

/// A value of the Redis serialization protocol, RESP2 or RESP3.
///
/// String-like payloads are kept as `ByteBuffer` slices of the bytes received, so decoding copies nothing.
/// RESP2's null bulk string (`$-1`) and null array (`*-1`) both decode as ``null``.
public enum RESPValue: Sendable, Hashable {
    /// `+OK` — a simple string.
    case simpleString(ByteBuffer)
    /// `$5 hello` — a bulk (blob) string.
    case bulkString(ByteBuffer)
    /// `-ERR message` — a simple error.
    case simpleError(ByteBuffer)
    /// `!21 SYNTAX invalid syntax` — a bulk (blob) error.
    case bulkError(ByteBuffer)
    /// `:42` — a signed 64-bit integer.
    case integer(Int64)
    /// `,3.14` — a double, including `inf`, `-inf` and `nan`.
    case double(Double)
    /// `_` (RESP3), `$-1` or `*-1` (RESP2).
    case null
    /// `#t` / `#f`.
    case boolean(Bool)
    /// `(3492890328409238509324850943850943825024385` — the decimal digits, with an optional leading `-`.
    case bigNumber(ByteBuffer)
    /// `=15 txt:Some string` — a string with a three-character format such as `txt` or `mkd`.
    case verbatimString(format: String, ByteBuffer)
    /// `*2 ...` — an array.
    case array([RESPValue])
    /// `%2 ...` — a map, in the order the server sent it.
    case map([RESPMapEntry])
    /// `~2 ...` — a set, in the order the server sent it.
    case set([RESPValue])
    /// `>3 ...` — an out-of-band push message (pub/sub messages, tracking invalidations).
    case push([RESPValue])
    /// `|1 ...` — attributes attached to the value that follows them.
    indirect case attributed(attributes: [RESPMapEntry], value: RESPValue)
}

/// One key/value pair of a RESP3 map or attribute.
public struct RESPMapEntry: Sendable, Hashable {
    public var key: RESPValue
    public var value: RESPValue

    public init(key: RESPValue, value: RESPValue) {
        self.key = key
        self.value = value
    }
}

extension RESPValue {
    /// Whether this value is an error reply (simple or bulk).
    public var isError: Bool {
        switch self {
        case .simpleError, .bulkError: return true
        case .attributed(_, let value): return value.isError
        default: return false
        }
    }

    /// The value without any attributes the server attached to it.
    public var withoutAttributes: RESPValue {
        if case .attributed(_, let value) = self { return value.withoutAttributes }
        return self
    }

    /// The payload of a string-like value (simple, bulk, verbatim, error, big number) as text.
    public var string: String? {
        switch self {
        case .simpleString(let buffer), .bulkString(let buffer), .simpleError(let buffer), .bulkError(let buffer),
            .bigNumber(let buffer), .verbatimString(_, let buffer):
            return String(buffer: buffer)
        case .integer(let value): return String(value)
        case .double(let value): return String(value)
        case .attributed(_, let value): return value.string
        default: return nil
        }
    }
}

extension RESPValue {
    /// A bulk string made from text.
    public static func bulkString(_ string: String) -> RESPValue { .bulkString(ByteBuffer(string: string)) }
    /// A simple string made from text.
    public static func simpleString(_ string: String) -> RESPValue { .simpleString(ByteBuffer(string: string)) }
    /// A simple error made from text.
    public static func simpleError(_ string: String) -> RESPValue { .simpleError(ByteBuffer(string: string)) }
}

extension RESPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let b): return "+\(String(buffer: b))"
        case .bulkString(let b): return "\"\(String(buffer: b))\""
        case .simpleError(let b), .bulkError(let b): return "(error) \(String(buffer: b))"
        case .integer(let i): return "(integer) \(i)"
        case .double(let d): return "(double) \(d)"
        case .null: return "(nil)"
        case .boolean(let b): return "(boolean) \(b)"
        case .bigNumber(let b): return "(big number) \(String(buffer: b))"
        case .verbatimString(let format, let b): return "(\(format)) \(String(buffer: b))"
        case .array(let values): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .set(let values): return "set[" + values.map(\.description).joined(separator: ", ") + "]"
        case .push(let values): return "push[" + values.map(\.description).joined(separator: ", ") + "]"
        case .map(let entries):
            return "{" + entries.map { "\($0.key.description): \($0.value.description)" }.joined(separator: ", ") + "}"
        case .attributed(let attributes, let value):
            return "|\(RESPValue.map(attributes).description)| \(value.description)"
        }
    }
}
