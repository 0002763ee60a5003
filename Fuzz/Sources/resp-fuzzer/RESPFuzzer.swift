import FloodgateRESP
import NIOCore

/// Feeds arbitrary bytes to the decoder, whole and split in two at a point chosen by the input. Any value decoded
/// must re-encode to a canonical form that decodes to the same canonical form; errors are fine, crashes and hangs
/// are not. Small limits make the limit checks reachable too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let limits = RESPDecoder.Limits(
        maximumBulkLength: 1 << 16,
        maximumAggregateLength: 1 << 12,
        maximumDepth: 32,
        maximumLineLength: 1 << 12
    )
    let whole = decodeAll(ByteBuffer(bytes: bytes), limits: limits)
    // The same bytes arriving in two reads must decode to the same values.
    if count > 1 {
        let cut = Int(bytes[0]) % count
        let split = decodeAll(ByteBuffer(bytes: bytes[0..<cut]), then: ByteBuffer(bytes: bytes[cut...]), limits: limits)
        precondition(canonical(split.values) == canonical(whole.values), "split input decoded differently")
        precondition(split.failed == whole.failed, "split input failed differently")
    }
    for value in whole.values {
        var encoded = ByteBuffer()
        encoded.writeRESPValue(value)
        var decoder = RESPDecoder()
        var copy = encoded
        guard let again = try? decoder.decode(buffer: &copy) else {
            preconditionFailure("a decoded value did not survive re-encoding: \(value)")
        }
        var reencoded = ByteBuffer()
        reencoded.writeRESPValue(again)
        precondition(reencoded == encoded, "re-encoding is not stable for \(value)")
    }
    return 0
}

private func decodeAll(_ first: ByteBuffer, then second: ByteBuffer? = nil, limits: RESPDecoder.Limits) -> (values: [RESPValue], failed: Bool) {
    var decoder = RESPDecoder(limits: limits)
    var buffer = first
    var values: [RESPValue] = []
    do {
        while let value = try decoder.decode(buffer: &buffer) { values.append(value) }
        if var rest = second {
            buffer.writeBuffer(&rest)
            while let value = try decoder.decode(buffer: &buffer) { values.append(value) }
        }
    } catch {
        return (values, true)
    }
    return (values, false)
}

private func canonical(_ values: [RESPValue]) -> ByteBuffer {
    var buffer = ByteBuffer()
    for value in values { buffer.writeRESPValue(value) }
    return buffer
}
