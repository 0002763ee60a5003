import NIOCore

/// Decodes RESP2 and RESP3 values from a byte stream.
///
/// It survives any split of the input: an incomplete value leaves the buffer untouched until more bytes arrive.
/// Malformed input throws a ``RESPDecodingError``; limits on bulk length, aggregate length, line length and
/// nesting depth keep a hostile or broken peer from exhausting memory or the stack.
public struct RESPDecoder: NIOSingleStepByteToMessageDecoder, Sendable {
    public typealias InboundOut = RESPValue

    /// Bounds on what the decoder accepts.
    public struct Limits: Sendable, Hashable {
        /// The longest bulk string, bulk error or verbatim string, in bytes. Redis's `proto-max-bulk-len`: 512 MB.
        public var maximumBulkLength: Int
        /// The most elements in one array, set, push, or the most pairs in one map or attribute.
        public var maximumAggregateLength: Int
        /// The deepest nesting of aggregates.
        public var maximumDepth: Int
        /// The longest line (simple string, simple error, number), in bytes.
        public var maximumLineLength: Int

        public init(
            maximumBulkLength: Int = 512 * 1024 * 1024,
            maximumAggregateLength: Int = 1 << 31 - 1,
            maximumDepth: Int = 128,
            maximumLineLength: Int = 64 * 1024
        ) {
            self.maximumBulkLength = maximumBulkLength
            self.maximumAggregateLength = maximumAggregateLength
            self.maximumDepth = maximumDepth
            self.maximumLineLength = maximumLineLength
        }
    }

    public let limits: Limits

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        var cursor = buffer
        guard let value = try Self.parseValue(&cursor, depth: 0, limits: limits) else { return nil }
        buffer.moveReaderIndex(to: cursor.readerIndex)
        return value
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        try decode(buffer: &buffer)
    }
}

// MARK: - Parsing
//
// Each function reads from `buffer` and returns nil when the value is not complete yet; the caller then discards the
// partially advanced copy, so no state survives between calls.

extension RESPDecoder {
    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    static func parseValue(_ buffer: inout ByteBuffer, depth: Int, limits: Limits) throws -> RESPValue? {
        guard let marker = buffer.readInteger(as: UInt8.self) else { return nil }
        switch marker {
        case UInt8(ascii: "+"):
            return try readLine(&buffer, limits: limits).map { .simpleString($0) }
        case UInt8(ascii: "-"):
            return try readLine(&buffer, limits: limits).map { .simpleError($0) }
        case UInt8(ascii: ":"):
            guard let line = try readLine(&buffer, limits: limits) else { return nil }
            guard let value = parseInteger(line) else { throw RESPDecodingError.invalidInteger }
            return .integer(value)
        case UInt8(ascii: "$"):
            return try readBulk(&buffer, limits: limits, allowNull: true).map { $0.map { .bulkString($0) } ?? .null }
        case UInt8(ascii: "!"):
            return try readBulk(&buffer, limits: limits, allowNull: false).map { .bulkError($0!) }
        case UInt8(ascii: "="):
            guard let payload = try readBulk(&buffer, limits: limits, allowNull: false) else { return nil }
            return try verbatim(payload!)
        case UInt8(ascii: "_"):
            guard let line = try readLine(&buffer, limits: limits) else { return nil }
            guard line.readableBytes == 0 else { throw RESPDecodingError.missingCRLF }
            return .null
        case UInt8(ascii: "#"):
            guard let line = try readLine(&buffer, limits: limits) else { return nil }
            switch line.readableBytesView.first {
            case UInt8(ascii: "t") where line.readableBytes == 1: return .boolean(true)
            case UInt8(ascii: "f") where line.readableBytes == 1: return .boolean(false)
            default: throw RESPDecodingError.invalidBoolean
            }
        case UInt8(ascii: ","):
            guard let line = try readLine(&buffer, limits: limits) else { return nil }
            guard let value = parseDouble(line) else { throw RESPDecodingError.invalidDouble }
            return .double(value)
        case UInt8(ascii: "("):
            guard let line = try readLine(&buffer, limits: limits) else { return nil }
            guard isBigNumber(line) else { throw RESPDecodingError.invalidBigNumber }
            return .bigNumber(line)
        case UInt8(ascii: "*"):
            guard let elements = try readAggregate(&buffer, depth: depth, limits: limits, allowNull: true) else {
                return nil
            }
            return elements.map { .array($0) } ?? .null
        case UInt8(ascii: "~"):
            return try readAggregate(&buffer, depth: depth, limits: limits, allowNull: false).map { .set($0!) }
        case UInt8(ascii: ">"):
            return try readAggregate(&buffer, depth: depth, limits: limits, allowNull: false).map { .push($0!) }
        case UInt8(ascii: "%"):
            return try readPairs(&buffer, depth: depth, limits: limits).map { .map($0) }
        case UInt8(ascii: "|"):
            guard let attributes = try readPairs(&buffer, depth: depth, limits: limits) else { return nil }
            guard let value = try parseValue(&buffer, depth: depth, limits: limits) else { return nil }
            return .attributed(attributes: attributes, value: value)
        default:
            throw RESPDecodingError.invalidTypeMarker
        }
    }

    /// The bytes up to the next CRLF, which is consumed too.
    private static func readLine(_ buffer: inout ByteBuffer, limits: Limits) throws -> ByteBuffer? {
        let view = buffer.readableBytesView
        guard let crIndex = view.firstIndex(of: cr) else {
            if view.count > limits.maximumLineLength { throw RESPDecodingError.missingCRLF }
            return nil
        }
        let lineLength = crIndex - view.startIndex
        guard lineLength + 1 < view.count else { return nil }
        guard view[crIndex + 1] == lf else { throw RESPDecodingError.missingCRLF }
        let line = buffer.readSlice(length: lineLength)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    /// A length-prefixed payload. Returns `.some(nil)` for RESP2's `-1` null when allowed.
    private static func readBulk(_ buffer: inout ByteBuffer, limits: Limits, allowNull: Bool) throws -> ByteBuffer??
    {
        guard let line = try readLine(&buffer, limits: limits) else { return nil }
        guard let length = parseInteger(line) else { throw RESPDecodingError.invalidLength }
        if length == -1 && allowNull { return .some(nil) }
        guard length >= 0 else { throw RESPDecodingError.invalidLength }
        guard length <= limits.maximumBulkLength else { throw RESPDecodingError.bulkLengthExceeded }
        let count = Int(length)
        guard buffer.readableBytes >= count + 2 else { return nil }
        let payload = buffer.readSlice(length: count)!
        guard buffer.readInteger(as: UInt8.self) == cr, buffer.readInteger(as: UInt8.self) == lf else {
            throw RESPDecodingError.missingCRLF
        }
        return .some(payload)
    }

    /// An element count, checked against the limits. Returns `.some(nil)` for RESP2's `-1` null when allowed.
    private static func readCount(
        _ buffer: inout ByteBuffer,
        depth: Int,
        limits: Limits,
        allowNull: Bool
    ) throws -> Int?? {
        guard let line = try readLine(&buffer, limits: limits) else { return nil }
        guard let count = parseInteger(line) else { throw RESPDecodingError.invalidLength }
        if count == -1 && allowNull { return .some(nil) }
        guard count >= 0 else { throw RESPDecodingError.invalidLength }
        guard count <= limits.maximumAggregateLength else { throw RESPDecodingError.aggregateLengthExceeded }
        guard depth < limits.maximumDepth else { throw RESPDecodingError.nestingTooDeep }
        return .some(Int(count))
    }

    private static func readAggregate(
        _ buffer: inout ByteBuffer,
        depth: Int,
        limits: Limits,
        allowNull: Bool
    ) throws -> [RESPValue]?? {
        guard let header = try readCount(&buffer, depth: depth, limits: limits, allowNull: allowNull) else {
            return nil
        }
        guard let count = header else { return .some(nil) }
        var elements: [RESPValue] = []
        // Every element takes at least three bytes: never reserve more than the input could hold.
        elements.reserveCapacity(min(count, buffer.readableBytes / 3))
        for _ in 0..<count {
            guard let element = try parseValue(&buffer, depth: depth + 1, limits: limits) else { return nil }
            elements.append(element)
        }
        return .some(elements)
    }

    private static func readPairs(_ buffer: inout ByteBuffer, depth: Int, limits: Limits) throws -> [RESPMapEntry]? {
        guard let header = try readCount(&buffer, depth: depth, limits: limits, allowNull: false) else { return nil }
        let count = header!
        var entries: [RESPMapEntry] = []
        entries.reserveCapacity(min(count, buffer.readableBytes / 6))
        for _ in 0..<count {
            guard let key = try parseValue(&buffer, depth: depth + 1, limits: limits),
                let value = try parseValue(&buffer, depth: depth + 1, limits: limits)
            else { return nil }
            entries.append(RESPMapEntry(key: key, value: value))
        }
        return entries
    }

    private static func verbatim(_ payload: ByteBuffer) throws -> RESPValue {
        var payload = payload
        // The format is three printable ASCII bytes (`txt`, `mkd`) followed by a colon.
        guard payload.readableBytes >= 4,
            payload.getInteger(at: payload.readerIndex + 3, as: UInt8.self) == UInt8(ascii: ":"),
            payload.readableBytesView.prefix(3).allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
            let format = payload.readString(length: 3)
        else { throw RESPDecodingError.invalidVerbatimString }
        payload.moveReaderIndex(forwardBy: 1)
        return .verbatimString(format: format, payload)
    }

    /// A decimal integer with an optional leading `-`, parsed without allocating.
    static func parseInteger(_ line: ByteBuffer) -> Int64? {
        let bytes = line.readableBytesView
        guard !bytes.isEmpty else { return nil }
        var index = bytes.startIndex
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        } else if bytes[index] == UInt8(ascii: "+") {
            index += 1
        }
        guard index < bytes.endIndex else { return nil }
        var value: Int64 = 0
        while index < bytes.endIndex {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) =
                negative
                ? multiplied.subtractingReportingOverflow(Int64(digit))
                : multiplied.addingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = added
            index += 1
        }
        return value
    }

    private static func parseDouble(_ line: ByteBuffer) -> Double? {
        let text = String(buffer: line)
        switch text {
        case "inf", "+inf": return .infinity
        case "-inf": return -.infinity
        case "nan", "-nan": return .nan
        default:
            // Reject what Swift would accept but RESP does not produce (hex floats, "infinity", spaces).
            guard !text.isEmpty,
                text.utf8.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || "+-.eE".utf8.contains($0) })
            else { return nil }
            return Double(text)
        }
    }

    private static func isBigNumber(_ line: ByteBuffer) -> Bool {
        var digits = line.readableBytesView[...]
        if digits.first == UInt8(ascii: "-") || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}
