/// Malformed or over-limit RESP input. The connection that saw it cannot be trusted any more and is closed.
public struct RESPDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case invalidTypeMarker
        case invalidInteger
        case invalidLength
        case invalidDouble
        case invalidBoolean
        case invalidBigNumber
        case invalidVerbatimString
        case missingCRLF
        case bulkLengthExceeded
        case aggregateLengthExceeded
        case nestingTooDeep
    }

    private let base: Base
    /// What exactly was wrong, for logs.
    public let message: String

    private init(_ base: Base, _ message: String) {
        self.base = base
        self.message = message
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.base == rhs.base }
    public func hash(into hasher: inout Hasher) { hasher.combine(base) }

    /// A byte that starts no RESP type.
    public static let invalidTypeMarker = Self(.invalidTypeMarker, "invalid type marker")
    /// An integer (`:`) or length that is not a decimal number.
    public static let invalidInteger = Self(.invalidInteger, "invalid integer")
    /// A length that is negative (other than RESP2's -1 null) or not a number.
    public static let invalidLength = Self(.invalidLength, "invalid length")
    /// A double (`,`) that does not parse.
    public static let invalidDouble = Self(.invalidDouble, "invalid double")
    /// A boolean (`#`) other than `t` or `f`.
    public static let invalidBoolean = Self(.invalidBoolean, "invalid boolean")
    /// A big number (`(`) that is not an optionally signed run of digits.
    public static let invalidBigNumber = Self(.invalidBigNumber, "invalid big number")
    /// A verbatim string (`=`) without its `xxx:` format prefix.
    public static let invalidVerbatimString = Self(.invalidVerbatimString, "invalid verbatim string")
    /// A payload not followed by `\r\n`, or a line with a bare `\r`.
    public static let missingCRLF = Self(.missingCRLF, "missing CRLF")
    /// A bulk string or error longer than the configured maximum.
    public static let bulkLengthExceeded = Self(.bulkLengthExceeded, "bulk length exceeds the configured maximum")
    /// An aggregate with more elements than the configured maximum.
    public static let aggregateLengthExceeded = Self(
        .aggregateLengthExceeded,
        "aggregate length exceeds the configured maximum"
    )
    /// Aggregates nested deeper than the configured maximum.
    public static let nestingTooDeep = Self(.nestingTooDeep, "aggregates nested deeper than the configured maximum")

    public var description: String { "RESPDecodingError: \(message)" }
}
