import FloodgateRESP
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

extension RedisConnection {
    /// Opens a connection (TCP, optional TLS) and performs the handshake: `HELLO 3` with `AUTH` and `SETNAME`,
    /// falling back to RESP2 (`AUTH`, `CLIENT SETNAME`) when the server has no `HELLO`; then `SELECT` if needed.
    ///
    /// The whole of it is bounded by the configuration's `connectTimeout`. The attempt is counted in `accounting`.
    public static func connect(
        configuration: RedisClientConfiguration,
        eventLoop: any EventLoop,
        accounting: RedisCommandAccounting,
        sslContext: NIOSSLContext? = nil,
        logger: Logger
    ) async throws -> RedisConnection {
        do {
            let connection = try await open(
                configuration: configuration,
                eventLoop: eventLoop,
                accounting: accounting,
                sslContext: sslContext,
                logger: logger
            )
            accounting.recordConnectionAttempt(connected: true)
            return connection
        } catch {
            accounting.recordConnectionAttempt(connected: false)
            throw error
        }
    }

    private static func open(
        configuration: RedisClientConfiguration,
        eventLoop: any EventLoop,
        accounting: RedisCommandAccounting,
        sslContext: NIOSSLContext?,
        logger: Logger
    ) async throws -> RedisConnection {
        let sslContext = try sslContext ?? makeSSLContext(configuration)
        let accounting = accounting
        let limits = configuration.decoderLimits
        // Happy eyeballs may initialise several channels; remember each one's connection and keep the winner's.
        let candidates = Mutex<[ObjectIdentifier: RedisConnection]>([:])
        let commandTimeout = configuration.commandTimeout
        let serverName = configuration.tls.map { $0.serverName ?? (isIPAddress(configuration.host) ? nil : configuration.host) } ?? nil
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let tlsHandler = try NIOSSLClientHandler(context: sslContext, serverHostname: serverName)
                        try channel.pipeline.syncOperations.addHandler(tlsHandler)
                    }
                    let handler = RedisChannelHandler(eventLoop: channel.eventLoop, accounting: accounting, limits: limits)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    let connection = RedisConnection(
                        channel: channel,
                        handler: handler,
                        commandTimeout: commandTimeout,
                        logger: logger
                    )
                    candidates.withLock { $0[ObjectIdentifier(channel)] = connection }
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RedisClientError(
                .connectFailed,
                "cannot connect to \(configuration.host):\(configuration.port): \(error)"
            )
        }
        guard let connection = candidates.withLock({ $0[ObjectIdentifier(channel)] }) else {
            try? await channel.close()
            throw RedisClientError(.connectFailed, "connected channel was not initialised")
        }
        do {
            try await connection.handshake(configuration, timeout: configuration.connectTimeout)
        } catch {
            try? await channel.close()
            throw error
        }
        return connection
    }

    static func makeSSLContext(_ configuration: RedisClientConfiguration) throws -> NIOSSLContext? {
        guard let tls = configuration.tls else { return nil }
        do {
            return try NIOSSLContext(configuration: tls.configuration)
        } catch {
            throw RedisClientError(.tls, "invalid TLS configuration: \(error)")
        }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    private func handshake(_ configuration: RedisClientConfiguration, timeout: Duration) async throws {
        var resp3 = false
        if configuration.preferRESP3 {
            var arguments = ["3"]
            if let password = configuration.password {
                arguments += ["AUTH", configuration.username ?? "default", password]
            }
            if let name = configuration.clientName { arguments += ["SETNAME", name] }
            let reply = try await sendRaw(RedisCommand("HELLO", arguments: arguments), component: .connection, timeout: timeout)
            if let error = Self.serverError(reply) {
                if error.hasPrefix("NOPROTO") || error.lowercased().contains("unknown command") {
                    // The server's message echoes HELLO's arguments, password included: never log it.
                    logger.notice("Redis server does not support HELLO 3; using RESP2")
                } else {
                    throw Self.handshakeError(error)
                }
            } else {
                resp3 = true
                let mode = (try? reply.withoutAttributes.pairs())?.first { $0.key.string == "mode" }?.value.string
                setClusterNode(mode == "cluster")
            }
        }
        if !resp3 {
            if let password = configuration.password {
                let command =
                    configuration.username.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password)
                let reply = try await sendRaw(command, component: .connection, timeout: timeout)
                // Whatever AUTH itself refuses is about the credentials.
                if let error = Self.serverError(reply) { throw RedisClientError(.authentication, error) }
            }
            if let name = configuration.clientName {
                _ = try await send(RedisCommand("CLIENT SETNAME", name), component: .connection, timeout: timeout)
            }
        }
        setProtocolVersion(resp3 ? 3 : 2)
        if configuration.database != 0 {
            _ = try await send(RedisCommand("SELECT", configuration.database), component: .connection, timeout: timeout)
        }
    }

    private static func serverError(_ reply: RESPValue) -> String? {
        switch reply.withoutAttributes {
        case .simpleError(let message), .bulkError(let message): return String(buffer: message)
        default: return nil
        }
    }

    /// A refused `HELLO`, classified by the reply's error code: credentials refused (`WRONGPASS`, `NOAUTH`,
    /// `NOPERM`), else a server error.
    private static func handshakeError(_ message: String) -> RedisClientError {
        let prefix = message.prefix { $0 != " " }
        if ["WRONGPASS", "NOAUTH", "NOPERM"].contains(prefix) { return RedisClientError(.authentication, message) }
        return RedisClientError(.server, message)
    }
}
