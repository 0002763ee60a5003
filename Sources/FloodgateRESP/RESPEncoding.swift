import NIOCore

/// A value that can be sent to Redis as one argument of a command (a RESP bulk string).
public protocol RESPArgument {
    /// Writes the value as a RESP bulk string: `$<length>\r\n<bytes>\r\n`.
    func writeBulkString(into buffer: inout ByteBuffer)
}

extension String: RESPArgument {
    @inlinable
    public func writeBulkString(into buffer: inout ByteBuffer) {
        var copy = self
        copy.withUTF8 { buffer.writeRESPBulkString(UnsafeRawBufferPointer($0)) }
    }
}

extension Substring: RESPArgument {
    @inlinable
    public func writeBulkString(into buffer: inout ByteBuffer) { String(self).writeBulkString(into: &buffer) }
}

extension Int: RESPArgument {
    @inlinable
    public func writeBulkString(into buffer: inout ByteBuffer) { String(self).writeBulkString(into: &buffer) }
}

extension Int64: RESPArgument {
    @inlinable
    public func writeBulkString(into buffer: inout ByteBuffer) { String(self).writeBulkString(into: &buffer) }
}

extension Double: RESPArgument {
    public func writeBulkString(into buffer: inout ByteBuffer) {
        let text: String
        if isNaN {
            text = "nan"
        } else if isInfinite {
            text = self < 0 ? "-inf" : "+inf"
        } else {
            text = String(self)
        }
        text.writeBulkString(into: &buffer)
    }
}

extension ByteBuffer: RESPArgument {
    @inlinable
    public func writeBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPLength(UInt8(ascii: "$"), readableBytes)
        buffer.writeImmutableBuffer(self)
        buffer.writeRESPCRLF()
    }
}

extension Array: RESPArgument where Element == UInt8 {
    @inlinable
    public func writeBulkString(into buffer: inout ByteBuffer) {
        withUnsafeBytes { buffer.writeRESPBulkString($0) }
    }
}

extension ByteBuffer {
    /// Writes `\r\n`.
    @inlinable
    public mutating func writeRESPCRLF() {
        writeInteger(UInt16(0x0D0A))
    }

    /// Writes a type marker and a decimal length or count followed by CRLF, e.g. `*3\r\n`.
    @inlinable
    public mutating func writeRESPLength(_ marker: UInt8, _ value: Int) {
        writeInteger(marker)
        if value >= 0 && value < 10 {
            writeInteger(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
        } else {
            writeString(String(value))
        }
        writeRESPCRLF()
    }

    /// Writes raw bytes as a RESP bulk string.
    @inlinable
    public mutating func writeRESPBulkString(_ bytes: UnsafeRawBufferPointer) {
        writeRESPLength(UInt8(ascii: "$"), bytes.count)
        writeBytes(bytes)
        writeRESPCRLF()
    }

    /// Writes any RESP value in its RESP3 wire form (RESP2 peers understand the RESP2 subset of it).
    public mutating func writeRESPValue(_ value: RESPValue) {
        switch value {
        case .simpleString(let b): writeLine(UInt8(ascii: "+"), b)
        case .simpleError(let b): writeLine(UInt8(ascii: "-"), b)
        case .bulkString(let b): b.writeBulkString(into: &self)
        case .bulkError(let b):
            writeRESPLength(UInt8(ascii: "!"), b.readableBytes)
            writeImmutableBuffer(b)
            writeRESPCRLF()
        case .verbatimString(let format, let b):
            writeRESPLength(UInt8(ascii: "="), b.readableBytes + 4)
            writeString(format)
            writeInteger(UInt8(ascii: ":"))
            writeImmutableBuffer(b)
            writeRESPCRLF()
        case .integer(let i):
            writeInteger(UInt8(ascii: ":"))
            writeString(String(i))
            writeRESPCRLF()
        case .double(let d):
            writeInteger(UInt8(ascii: ","))
            if d.isNaN {
                writeString("nan")
            } else if d.isInfinite {
                writeString(d < 0 ? "-inf" : "inf")
            } else {
                writeString(String(d))
            }
            writeRESPCRLF()
        case .null:
            writeInteger(UInt8(ascii: "_"))
            writeRESPCRLF()
        case .boolean(let b):
            writeInteger(UInt8(ascii: "#"))
            writeInteger(b ? UInt8(ascii: "t") : UInt8(ascii: "f"))
            writeRESPCRLF()
        case .bigNumber(let b): writeLine(UInt8(ascii: "("), b)
        case .array(let values): writeAggregate(UInt8(ascii: "*"), values)
        case .set(let values): writeAggregate(UInt8(ascii: "~"), values)
        case .push(let values): writeAggregate(UInt8(ascii: ">"), values)
        case .map(let entries): writePairs(UInt8(ascii: "%"), entries)
        case .attributed(let attributes, let value):
            writePairs(UInt8(ascii: "|"), attributes)
            writeRESPValue(value)
        }
    }

    private mutating func writeLine(_ marker: UInt8, _ payload: ByteBuffer) {
        writeInteger(marker)
        writeImmutableBuffer(payload)
        writeRESPCRLF()
    }

    private mutating func writeAggregate(_ marker: UInt8, _ values: [RESPValue]) {
        writeRESPLength(marker, values.count)
        for value in values { writeRESPValue(value) }
    }

    private mutating func writePairs(_ marker: UInt8, _ entries: [RESPMapEntry]) {
        writeRESPLength(marker, entries.count)
        for entry in entries {
            writeRESPValue(entry.key)
            writeRESPValue(entry.value)
        }
    }
}
