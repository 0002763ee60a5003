import FloodgateRESP
import NIOSSL

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How a ``RedisClient`` connects and behaves. Every field has a sensible default.
public struct RedisClientConfiguration: Sendable, CustomStringConvertible {
    /// The server's host name or IP address.
    public var host: String
    /// The server's port.
    public var port: Int
    /// The ACL user (`nil` for `default`).
    public var username: String?
    /// The password; never printed by ``description``.
    public var password: String?
    /// The logical database to `SELECT` after connecting.
    public var database: Int
    /// TLS settings; `nil` for a plain TCP connection.
    public var tls: TLS?
    /// The name set with `CLIENT SETNAME` (shown in `CLIENT LIST`).
    public var clientName: String?
    /// Whether to ask for RESP3 with `HELLO 3` (falling back to RESP2 when the server lacks `HELLO`).
    public var preferRESP3: Bool
    /// How long a command may wait for its reply; `nil` waits forever.
    public var commandTimeout: Duration?
    /// How long establishing a connection (TCP, TLS and handshake) may take.
    public var connectTimeout: Duration
    /// Delays between reconnection attempts.
    public var reconnectBackoff: Backoff
    /// The most dedicated connections (for blocking commands and `WATCH`) open at once.
    public var dedicatedConnectionLimit: Int
    /// Bounds on what the reply decoder accepts.
    public var decoderLimits: RESPDecoder.Limits
    /// Whether to use Redis Cluster: `.automatic` follows what the server says in its `HELLO` reply.
    public var cluster: ClusterMode
    /// More cluster nodes to try, after `host:port`, when the client's own connection must be (re)made: the first
    /// start then works while the URL's node is down. Once connected, every node the cluster names is tried too.
    public var seeds: [RedisNodeAddress]
    /// Where to connect for a cluster node the cluster names (its announced address): for nodes reached through
    /// NAT, port forwarding or a proxy. Nodes not in it are connected to as named.
    public var nodeAddressMap: [RedisNodeAddress: RedisNodeAddress]

    /// Whether the client routes commands across a Redis Cluster.
    public enum ClusterMode: String, Sendable, Hashable, CaseIterable {
        /// Cluster mode when the server's `HELLO` reply says `mode: cluster` (RESP3 servers, Redis 6 and later).
        case automatic = "auto"
        /// Cluster mode always: for RESP2-only servers; a node that is not in a cluster fails the connection.
        case enabled = "on"
        /// One server; a cluster node then answers `MOVED` for keys it does not serve.
        case disabled = "off"
    }

    /// Exponential back-off with full jitter: attempt *n* waits a random time up to `min(maximum, initial × 2ⁿ)`,
    /// but at least half of it, so a fleet does not reconnect in lockstep.
    public struct Backoff: Sendable, Hashable {
        public var initial: Duration
        public var maximum: Duration
        public init(initial: Duration = .milliseconds(25), maximum: Duration = .seconds(1)) {
            self.initial = initial
            self.maximum = maximum
        }

        /// The delay before attempt `attempt` (1-based).
        public func delay(attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
            let exponent = min(max(attempt - 1, 0), 30)
            let ceiling = min(maximum, initial * (1 << exponent))
            let fraction = Double.random(in: 0.5...1.0, using: &generator)
            return ceiling * fraction
        }
    }

    /// TLS to the server, verifying its certificate by default.
    public struct TLS: Sendable {
        /// The NIOSSL configuration; defaults verify the server against the system's trust roots.
        public var configuration: TLSConfiguration
        /// The name to verify the certificate against and send as SNI; defaults to the host when it is a name.
        public var serverName: String?

        public init(configuration: TLSConfiguration = .makeClientConfiguration(), serverName: String? = nil) {
            self.configuration = configuration
            self.serverName = serverName
        }

        /// Verifies the server against the CA certificate(s) in a PEM file instead of the system's trust roots.
        public static func trusting(caCertificatePath: String, serverName: String? = nil) -> TLS {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .file(caCertificatePath)
            return TLS(configuration: configuration, serverName: serverName)
        }
    }

    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        tls: TLS? = nil,
        clientName: String? = "floodgate",
        preferRESP3: Bool = true,
        commandTimeout: Duration? = .seconds(2),
        connectTimeout: Duration = .seconds(2),
        reconnectBackoff: Backoff = Backoff(),
        dedicatedConnectionLimit: Int = 4,
        decoderLimits: RESPDecoder.Limits = .init(),
        cluster: ClusterMode = .automatic,
        seeds: [RedisNodeAddress] = [],
        nodeAddressMap: [RedisNodeAddress: RedisNodeAddress] = [:]
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.clientName = clientName
        self.preferRESP3 = preferRESP3
        self.commandTimeout = commandTimeout
        self.connectTimeout = connectTimeout
        self.reconnectBackoff = reconnectBackoff
        self.dedicatedConnectionLimit = dedicatedConnectionLimit
        self.decoderLimits = decoderLimits
        self.cluster = cluster
        self.seeds = seeds
        self.nodeAddressMap = nodeAddressMap
    }

    /// Reads `redis://[user[:password]@]host[:port][/db]` or `rediss://...` (TLS, verifying the server).
    ///
    /// Options: `timeout=<seconds>` (command timeout), `name=<client name>`, `cluster=auto|on|off` (see
    /// ``ClusterMode``) and `seed=<host:port>`, repeatable (more cluster nodes to start from).
    ///
    /// Throws ``RedisClientError`` with code `.invalidConfiguration` naming what is wrong; the message never
    /// contains the password.
    public init(url: String) throws {
        self.init()
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw RedisClientError(.invalidConfiguration, "not a URL: expected redis://host:port or rediss://host:port")
        }
        switch scheme {
        case "redis": tls = nil
        case "rediss": tls = TLS()
        default:
            throw RedisClientError(.invalidConfiguration, "unsupported URL scheme '\(scheme)': use redis:// or rediss://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw RedisClientError(.invalidConfiguration, "the Redis URL has no host")
        }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let port = components.port {
            guard (1...65535).contains(port) else {
                throw RedisClientError(.invalidConfiguration, "the Redis URL's port \(port) is out of range")
            }
            self.port = port
        }
        if let user = components.user, !user.isEmpty { username = user }
        if let password = components.password { self.password = password }
        let path = String(components.path.drop(while: { $0 == "/" }))
        if !path.isEmpty {
            guard let database = Int(path), database >= 0 else {
                throw RedisClientError(.invalidConfiguration, "the Redis URL's path '/\(path)' is not a database number")
            }
            self.database = database
        }
        for item in components.queryItems ?? [] {
            switch item.name {
            case "timeout":
                guard let value = item.value.flatMap(Double.init), value > 0 else {
                    throw RedisClientError(.invalidConfiguration, "timeout must be a positive number of seconds")
                }
                commandTimeout = .milliseconds(Int64(value * 1000))
            case "name":
                clientName = item.value
            case "cluster":
                guard let mode = item.value.flatMap(ClusterMode.init(rawValue:)) else {
                    throw RedisClientError(.invalidConfiguration, "cluster must be auto, on or off (was '\(item.value ?? "")')")
                }
                cluster = mode
            case "seed":
                guard let seed = item.value.flatMap({ RedisNodeAddress($0, defaultHost: "") }), !seed.host.isEmpty else {
                    throw RedisClientError(.invalidConfiguration, "seed must be host:port (was '\(item.value ?? "")')")
                }
                seeds.append(seed)
            default:
                throw RedisClientError(.invalidConfiguration, "unknown Redis URL option '\(item.name)'")
            }
        }
    }

    /// The same settings for another server: a cluster node, or the next node to reconnect through.
    public func pointing(at address: RedisNodeAddress) -> RedisClientConfiguration {
        var node = self
        node.host = address.host
        node.port = address.port
        return node
    }

    /// The server's address and options, with the password redacted.
    public var description: String {
        let scheme = tls == nil ? "redis" : "rediss"
        var credentials = ""
        if let username { credentials = username }
        if password != nil { credentials += ":***" }
        if !credentials.isEmpty { credentials += "@" }
        return "\(scheme)://\(credentials)\(host):\(port)/\(database)"
    }
}
