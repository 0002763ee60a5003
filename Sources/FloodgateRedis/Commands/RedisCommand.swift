import FloodgateRESP
import NIOCore

/// One Redis command, encoded once when it is made, ready to be written.
///
/// ```swift
/// let command = RedisCommand("SET", "greeting", "hello", "PX", 5_000)
/// ```
/// A name with a space (`"CLIENT TRACKING"`) is sent as two tokens and counted as `client|tracking`,
/// the way `INFO commandstats` names subcommands.
public struct RedisCommand: Sendable, CustomStringConvertible {
    /// The name under which the command is counted: lowercase, subcommands as `container|sub`.
    public let accountingName: String
    /// The command in RESP wire form.
    public let encoded: ByteBuffer

    /// Makes a command from its name and arguments; no allocation beyond the encoded bytes.
    public init<each Argument: RESPArgument>(_ name: String, _ arguments: repeat each Argument) {
        var argumentCount = 0
        for _ in repeat each arguments { argumentCount += 1 }
        var buffer = Self.header(name, argumentCount: argumentCount, extraCapacity: argumentCount * 16)
        for argument in repeat each arguments { argument.writeBulkString(into: &buffer) }
        self.encoded = buffer
        self.accountingName = Self.accountingName(for: name)
    }

    /// Makes a command from its name and a list of arguments of one type.
    public init<Arguments: Collection>(_ name: String, arguments: Arguments) where Arguments.Element: RESPArgument {
        var buffer = Self.header(name, argumentCount: arguments.count, extraCapacity: arguments.count * 16)
        for argument in arguments { argument.writeBulkString(into: &buffer) }
        self.encoded = buffer
        self.accountingName = Self.accountingName(for: name)
    }

    /// Makes a command whose arguments are written by `writeArguments`, which returns how many it wrote.
    public init(_ name: String, argumentCount: Int, writeArguments: (inout ByteBuffer) -> Void) {
        var buffer = Self.header(name, argumentCount: argumentCount, extraCapacity: argumentCount * 16)
        writeArguments(&buffer)
        self.encoded = buffer
        self.accountingName = Self.accountingName(for: name)
    }

    private static func header(_ name: String, argumentCount: Int, extraCapacity: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 32 + name.utf8.count + extraCapacity)
        guard name.utf8.contains(UInt8(ascii: " ")) else {
            buffer.writeRESPLength(UInt8(ascii: "*"), 1 + argumentCount)
            name.writeBulkString(into: &buffer)
            return buffer
        }
        let tokens = name.split(separator: " ")
        buffer.writeRESPLength(UInt8(ascii: "*"), tokens.count + argumentCount)
        for token in tokens { token.writeBulkString(into: &buffer) }
        return buffer
    }

    private static func accountingName(for name: String) -> String {
        guard name.utf8.contains(UInt8(ascii: " ")) else { return name.lowercased() }
        return name.split(separator: " ").map { $0.lowercased() }.joined(separator: "|")
    }

    public var description: String { "RedisCommand(\(accountingName))" }
}
