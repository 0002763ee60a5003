import NIOCore

/// Where Redis Cluster must run a command: on the primary of one slot, on any node, or nowhere (keys in two slots).
enum RedisClusterRoute: Hashable, Sendable {
    case slot(Int)
    case anyNode
    case crossSlot
}

extension RedisCommand {
    /// The slot every key of this command lives in, found from the command's name and arguments the way
    /// `COMMAND INFO` describes their keys: the first argument for most commands, `numkeys` for scripts and
    /// functions, every argument for `MGET`/`DEL`/`EXISTS`/…, every other one for `MSET`. Commands without keys
    /// (`PING`, `INFO`, `PUBLISH`, `SCAN`, `CONFIG`, `SCRIPT`, …) run on any node.
    var clusterRoute: RedisClusterRoute {
        let name = accountingName
        if Self.keylessCommands.contains(name) { return .anyNode }
        let arguments = Self.arguments(of: encoded, skipping: name.contains("|") ? 2 : 1)
        let keys: ArraySlice<ByteBufferView>
        if name.contains("|") {
            guard Self.keyedSubcommands.contains(name), let first = arguments.first else { return .anyNode }
            keys = [first]
        } else if Self.numkeysCommands.contains(name) {
            // EVAL script numkeys key… arg…, FCALL function numkeys key… arg…
            guard arguments.count >= 2, let count = Int(String(decoding: arguments[1], as: UTF8.self)), count >= 0,
                arguments.count >= 2 + count
            else { return .anyNode }
            keys = arguments[2..<(2 + count)]
        } else if Self.allKeysCommands.contains(name) {
            keys = arguments[...]
        } else if Self.twoKeysCommands.contains(name) {
            keys = arguments.prefix(2)
        } else if Self.keyValueCommands.contains(name) {
            keys = ArraySlice(arguments.enumerated().filter { $0.offset.isMultiple(of: 2) }.map(\.element))
        } else if Self.blockingPopCommands.contains(name) {
            keys = arguments.dropLast()
        } else {
            guard let first = arguments.first else { return .anyNode }
            keys = [first]
        }
        guard let firstKey = keys.first else { return .anyNode }
        let slot = RedisHashSlot.of(firstKey)
        for key in keys.dropFirst() where RedisHashSlot.of(key) != slot { return .crossSlot }
        return .slot(slot)
    }

    /// The bulk-string arguments of an encoded command, after its name's `skipping` tokens.
    private static func arguments(of encoded: ByteBuffer, skipping: Int) -> [ByteBufferView] {
        var buffer = encoded
        guard buffer.readInteger(as: UInt8.self) == UInt8(ascii: "*"), let count = readLength(&buffer) else { return [] }
        var arguments: [ByteBufferView] = []
        arguments.reserveCapacity(max(count - skipping, 0))
        for index in 0..<count {
            guard buffer.readInteger(as: UInt8.self) == UInt8(ascii: "$"), let length = readLength(&buffer),
                let bytes = buffer.readSlice(length: length)
            else { return arguments }
            buffer.moveReaderIndex(forwardBy: 2)
            if index >= skipping { arguments.append(bytes.readableBytesView) }
        }
        return arguments
    }

    /// Reads a decimal length and its `\r\n`.
    private static func readLength(_ buffer: inout ByteBuffer) -> Int? {
        var value = 0
        while let byte = buffer.readInteger(as: UInt8.self) {
            if byte == UInt8(ascii: "\r") {
                buffer.moveReaderIndex(forwardBy: 1)
                return value
            }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return nil
    }

    private static let keylessCommands: Set<String> = [
        "ping", "echo", "info", "hello", "auth", "select", "flushall", "flushdb", "dbsize", "scan", "publish",
        "subscribe", "psubscribe", "unsubscribe", "punsubscribe", "command", "time", "multi", "exec", "discard",
        "asking", "readonly", "readwrite", "keys", "randomkey", "wait", "lastsave", "save", "bgsave", "bgrewriteaof",
        "debug", "quit", "reset", "role", "monitor", "shutdown", "swapdb", "lolwut", "failover", "unwatch",
    ]
    /// Subcommands (`container|sub`) whose first argument is a key; every other subcommand has none.
    private static let keyedSubcommands: Set<String> = [
        "memory|usage", "object|encoding", "object|freq", "object|idletime", "object|refcount", "xinfo|stream",
        "xinfo|groups", "xinfo|consumers", "xgroup|create", "xgroup|destroy", "xgroup|setid", "xgroup|createconsumer",
        "xgroup|delconsumer",
    ]
    private static let numkeysCommands: Set<String> = [
        "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro",
    ]
    private static let allKeysCommands: Set<String> = [
        "mget", "del", "unlink", "exists", "touch", "watch", "sinter", "sunion", "sdiff", "sinterstore",
        "sunionstore", "sdiffstore", "pfcount", "pfmerge",
    ]
    private static let twoKeysCommands: Set<String> = [
        "rename", "renamenx", "rpoplpush", "smove", "copy", "lmove", "blmove",
    ]
    private static let keyValueCommands: Set<String> = ["mset", "msetnx"]
    private static let blockingPopCommands: Set<String> = ["blpop", "brpop", "bzpopmin", "bzpopmax"]
}
