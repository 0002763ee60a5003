import FloodgateRESP
import NIOCore
import NIOTestUtils
import Testing

@Suite("RESP decoder", .timeLimit(.minutes(3)))
struct RESPDecoderTests {
    /// Every RESP2 and RESP3 type, with the value each must decode to.
    static let cases: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("+\r\n", .simpleString("")),
        ("-ERR unknown command\r\n", .simpleError("ERR unknown command")),
        (":0\r\n", .integer(0)),
        (":-42\r\n", .integer(-42)),
        (":9223372036854775807\r\n", .integer(.max)),
        (":-9223372036854775808\r\n", .integer(.min)),
        ("$5\r\nhello\r\n", .bulkString("hello")),
        ("$0\r\n\r\n", .bulkString("")),
        ("$4\r\na\r\nb\r\n", .bulkString("a\r\nb")),
        ("$-1\r\n", .null),
        ("*-1\r\n", .null),
        ("_\r\n", .null),
        ("#t\r\n", .boolean(true)),
        ("#f\r\n", .boolean(false)),
        (",3.25\r\n", .double(3.25)),
        (",-1.5e3\r\n", .double(-1500)),
        (",inf\r\n", .double(.infinity)),
        (",-inf\r\n", .double(-.infinity)),
        ("(3492890328409238509324850943850943825024385\r\n", .bigNumber(ByteBuffer(string: "3492890328409238509324850943850943825024385"))),
        ("(-12\r\n", .bigNumber(ByteBuffer(string: "-12"))),
        ("!21\r\nSYNTAX invalid syntax\r\n", .bulkError(ByteBuffer(string: "SYNTAX invalid syntax"))),
        ("=15\r\ntxt:Some string\r\n", .verbatimString(format: "txt", ByteBuffer(string: "Some string"))),
        ("*0\r\n", .array([])),
        ("*2\r\n$3\r\nfoo\r\n:1\r\n", .array([.bulkString("foo"), .integer(1)])),
        ("*2\r\n*1\r\n+a\r\n*0\r\n", .array([.array([.simpleString("a")]), .array([])])),
        ("*3\r\n$1\r\na\r\n$-1\r\n$1\r\nb\r\n", .array([.bulkString("a"), .null, .bulkString("b")])),
        ("~2\r\n+a\r\n+b\r\n", .set([.simpleString("a"), .simpleString("b")])),
        ("%2\r\n+first\r\n:1\r\n+second\r\n#f\r\n", .map([
            RESPMapEntry(key: .simpleString("first"), value: .integer(1)),
            RESPMapEntry(key: .simpleString("second"), value: .boolean(false)),
        ])),
        (">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", .push([.bulkString("message"), .bulkString("ch"), .bulkString("hi")])),
        ("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.5\r\n*1\r\n:2\r\n", .attributed(
            attributes: [RESPMapEntry(
                key: .simpleString("key-popularity"),
                value: .map([RESPMapEntry(key: .bulkString("a"), value: .double(0.5))])
            )],
            value: .array([.integer(2)])
        )),
    ]

    @Test("decodes every type", arguments: 0..<cases.count)
    func decodesEveryType(index: Int) throws {
        let (wire, expected) = Self.cases[index]
        var buffer = ByteBuffer(string: wire)
        var decoder = RESPDecoder()
        let value = try decoder.decode(buffer: &buffer)
        #expect(value == expected)
        #expect(buffer.readableBytes == 0, "the whole value is consumed")
    }

    @Test func decodesNaN() throws {
        var buffer = ByteBuffer(string: ",nan\r\n")
        var decoder = RESPDecoder()
        guard case .double(let value) = try decoder.decode(buffer: &buffer) else {
            Issue.record("not a double")
            return
        }
        #expect(value.isNaN)
    }

    @Test("survives every split of the input (ByteToMessageDecoderVerifier)")
    func survivesAnySplit() throws {
        let pairs = Self.cases.map { ($0.0, [$0.1]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(stringInputOutputPairs: pairs) { RESPDecoder() }
        // And several values back to back in one stream.
        let stream = Self.cases.map(\.0).joined()
        try ByteToMessageDecoderVerifier.verifyDecoder(stringInputOutputPairs: [(stream, Self.cases.map(\.1))]) {
            RESPDecoder()
        }
    }

    @Test("an incomplete value consumes nothing", arguments: 0..<cases.count)
    func incompleteValueConsumesNothing(index: Int) throws {
        let wire = Array(Self.cases[index].0.utf8)
        for cut in 0..<wire.count {
            var buffer = ByteBuffer(bytes: wire[0..<cut])
            var decoder = RESPDecoder()
            #expect(try decoder.decode(buffer: &buffer) == nil)
            #expect(buffer.readableBytes == cut)
        }
    }

    static let malformed: [(String, RESPDecodingError)] = [
        ("?what\r\n", .invalidTypeMarker),
        (":12a\r\n", .invalidInteger),
        (":\r\n", .invalidInteger),
        (":99999999999999999999\r\n", .invalidInteger),
        ("$-2\r\n", .invalidLength),
        ("$abc\r\n", .invalidLength),
        ("$?\r\n", .invalidLength),
        ("$3\r\nabcde\r\n", .missingCRLF),
        ("+OK\rX", .missingCRLF),
        ("!-1\r\n", .invalidLength),
        ("#x\r\n", .invalidBoolean),
        ("#tt\r\n", .invalidBoolean),
        (",abc\r\n", .invalidDouble),
        (",0x1p3\r\n", .invalidDouble),
        ("(12x\r\n", .invalidBigNumber),
        ("(\r\n", .invalidBigNumber),
        ("=3\r\ntxt\r\n", .invalidVerbatimString),
        ("=5\r\ntxt-a\r\n", .invalidVerbatimString),
        ("_x\r\n", .missingCRLF),
        ("*-2\r\n", .invalidLength),
        ("~-1\r\n", .invalidLength),
        ("%-1\r\n", .invalidLength),
    ]

    @Test("rejects malformed input with a typed error", arguments: 0..<malformed.count)
    func rejectsMalformedInput(index: Int) {
        let (wire, expected) = Self.malformed[index]
        var buffer = ByteBuffer(string: wire)
        var decoder = RESPDecoder()
        #expect(throws: expected) { _ = try decoder.decode(buffer: &buffer) }
    }

    @Test("a verbatim format that is not ASCII is refused (found by the fuzzer)")
    func verbatimFormatMustBeASCII() {
        var buffer = ByteBuffer(string: "=15\r\n")
        buffer.writeBytes([0xF4, UInt8(ascii: "x"), UInt8(ascii: "t")])
        buffer.writeString(":Some string\r\n")
        var decoder = RESPDecoder()
        #expect(throws: RESPDecodingError.invalidVerbatimString) { _ = try decoder.decode(buffer: &buffer) }
    }

    @Test func enforcesBulkLengthLimit() {
        var decoder = RESPDecoder(limits: .init(maximumBulkLength: 4))
        var ok = ByteBuffer(string: "$4\r\nabcd\r\n")
        #expect(throws: Never.self) { _ = try decoder.decode(buffer: &ok) }
        var tooLong = ByteBuffer(string: "$5\r\n")
        #expect(throws: RESPDecodingError.bulkLengthExceeded) { _ = try decoder.decode(buffer: &tooLong) }
        var defaultDecoder = RESPDecoder()
        var huge = ByteBuffer(string: "$536870913\r\n")
        #expect(throws: RESPDecodingError.bulkLengthExceeded) { _ = try defaultDecoder.decode(buffer: &huge) }
    }

    @Test func enforcesAggregateLengthLimit() {
        var decoder = RESPDecoder(limits: .init(maximumAggregateLength: 2))
        var buffer = ByteBuffer(string: "*3\r\n")
        #expect(throws: RESPDecodingError.aggregateLengthExceeded) { _ = try decoder.decode(buffer: &buffer) }
        var map = ByteBuffer(string: "%3\r\n")
        #expect(throws: RESPDecodingError.aggregateLengthExceeded) { _ = try decoder.decode(buffer: &map) }
    }

    @Test func aHugeClaimedCountDoesNotReserveMemory() throws {
        // A peer may claim two billion elements and send none: the decoder waits without allocating for them.
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: "*2000000000\r\n:1\r\n")
        #expect(try decoder.decode(buffer: &buffer) == nil)
    }

    @Test func enforcesNestingDepth() throws {
        var decoder = RESPDecoder(limits: .init(maximumDepth: 3))
        var ok = ByteBuffer(string: "*1\r\n*1\r\n*1\r\n:1\r\n")
        #expect(try decoder.decode(buffer: &ok) == .array([.array([.array([.integer(1)])])]))
        var deep = ByteBuffer(string: "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n")
        #expect(throws: RESPDecodingError.nestingTooDeep) { _ = try decoder.decode(buffer: &deep) }
        // The default bound stops a stack-exhausting input long before the stack does.
        var defaultDecoder = RESPDecoder()
        var hostile = ByteBuffer(string: String(repeating: "*1\r\n", count: 100_000))
        #expect(throws: RESPDecodingError.nestingTooDeep) { _ = try defaultDecoder.decode(buffer: &hostile) }
    }

    @Test func enforcesLineLength() {
        var decoder = RESPDecoder(limits: .init(maximumLineLength: 8))
        var buffer = ByteBuffer(string: "+" + String(repeating: "a", count: 20))
        #expect(throws: RESPDecodingError.missingCRLF) { _ = try decoder.decode(buffer: &buffer) }
    }
}
