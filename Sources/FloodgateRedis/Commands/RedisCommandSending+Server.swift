import FloodgateRESP
import NIOCore

extension RedisCommandSending {
    /// `PING`: the server's answer (`PONG`).
    @discardableResult
    public func ping() async throws -> String {
        try await send(RedisCommand("PING")).optionalString() ?? ""
    }

    /// `INFO [section]` as text.
    public func info(_ section: String? = nil) async throws -> String {
        let command = section.map { RedisCommand("INFO", $0) } ?? RedisCommand("INFO")
        return try await send(command).optionalString() ?? ""
    }

    /// `INFO commandstats` as calls per command, keyed like the accounting (`get`, `client|tracking`).
    public func commandStats() async throws -> [String: Int] {
        var stats: [String: Int] = [:]
        for line in try await info("commandstats").split(whereSeparator: \.isNewline) {
            // cmdstat_get:calls=3,usec=10,usec_per_call=3.33,rejected_calls=0,failed_calls=0
            guard line.hasPrefix("cmdstat_"), let colon = line.firstIndex(of: ":") else { continue }
            let name = line[line.index(line.startIndex, offsetBy: 8)..<colon]
            let fields = line[line.index(after: colon)...].split(separator: ",")
            if let calls = fields.first(where: { $0.hasPrefix("calls=") }).flatMap({ Int($0.dropFirst(6)) }) {
                stats[String(name)] = calls
            }
        }
        return stats
    }

    /// `CONFIG GET parameter`: matching parameters and values.
    public func configGet(_ parameter: String) async throws -> [String: String] {
        var result: [String: String] = [:]
        for pair in try await send(RedisCommand("CONFIG GET", parameter)).pairs() {
            if let key = try pair.key.optionalString() { result[key] = try pair.value.optionalString() ?? "" }
        }
        return result
    }

    /// `CONFIG SET parameter value`.
    public func configSet(_ parameter: String, to value: String) async throws {
        try await send(RedisCommand("CONFIG SET", parameter, value)).expectOK()
    }

    /// `CONFIG RESETSTAT`: zeroes `INFO commandstats` and other statistics.
    public func configResetStat() async throws {
        try await send(RedisCommand("CONFIG RESETSTAT")).expectOK()
    }

    /// `TIME`: the server's clock, as seconds and microseconds since the epoch.
    public func time() async throws -> (seconds: Int, microseconds: Int) {
        let parts = try await send(RedisCommand("TIME")).elements()
        guard parts.count == 2 else { throw RedisClientError(.unexpectedReply, "TIME returned \(parts.count) parts") }
        return (try parts[0].int(), try parts[1].int())
    }

    /// `CLIENT ID`: this connection's id.
    public func clientID() async throws -> Int {
        try await send(RedisCommand("CLIENT ID")).int()
    }

    /// `CLIENT KILL ID id`-style generic `CLIENT` subcommands go through ``send(command:arguments:)``;
    /// this one lists connected clients as text.
    public func clientList() async throws -> String {
        try await send(RedisCommand("CLIENT LIST")).optionalString() ?? ""
    }

    /// `DBSIZE`: the number of keys in the selected database.
    public func dbsize() async throws -> Int {
        try await send(RedisCommand("DBSIZE")).int()
    }
}
