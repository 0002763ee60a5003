import FloodgateRESP
import NIOCore
import Testing

@Suite("RESP encoding", .timeLimit(.minutes(3)))
struct RESPEncodingTests {
    @Test("every value survives a round trip", arguments: 0..<RESPDecoderTests.cases.count)
    func roundTrip(index: Int) throws {
        let value = RESPDecoderTests.cases[index].1
        var buffer = ByteBuffer()
        buffer.writeRESPValue(value)
        var decoder = RESPDecoder()
        #expect(try decoder.decode(buffer: &buffer) == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test func writesCanonicalWireForm() {
        var buffer = ByteBuffer()
        buffer.writeRESPValue(.array([.bulkString("GET"), .bulkString("key")]))
        #expect(String(buffer: buffer) == "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
        buffer.clear()
        buffer.writeRESPValue(.map([RESPMapEntry(key: .simpleString("a"), value: .double(-.infinity))]))
        #expect(String(buffer: buffer) == "%1\r\n+a\r\n,-inf\r\n")
    }

    @Test func argumentsAreBulkStrings() {
        var buffer = ByteBuffer()
        "héllo".writeBulkString(into: &buffer)
        12345.writeBulkString(into: &buffer)
        ByteBuffer(string: "raw").writeBulkString(into: &buffer)
        [UInt8](arrayLiteral: 0, 255).writeBulkString(into: &buffer)
        Double.infinity.writeBulkString(into: &buffer)
        var expected = ByteBuffer(string: "$6\r\nhéllo\r\n$5\r\n12345\r\n$3\r\nraw\r\n$2\r\n")
        expected.writeBytes([0, 255])
        expected.writeString("\r\n$4\r\n+inf\r\n")
        #expect(buffer == expected)
    }
}
