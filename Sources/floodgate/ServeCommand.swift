import ArgumentParser
import FloodgateServer
import Foundation
import Hummingbird
import Logging
import NIOCore

/// `floodgate serve`: the sidecar. With no configuration it runs on the embedded default (memory store, local-only
/// mode, the built-in slack/hubspot/salesforce profiles) on 127.0.0.1:8080.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the sidecar: Floodgate over loopback HTTP, with health, metrics and a dashboard.",
        discussion: """
            Configuration: flags over environment variables (FLOODGATE_PORT, REDIS_URL, SUSPEND_REDIS, ...) over the \
            JSON file given by --config or FLOODGATE_CONFIG. Invalid configuration exits with status 2 and one line \
            naming the key. See the README's configuration table.
            """
    )

    @Option(help: "Address to bind (floodgate.host; default 127.0.0.1).") var host: String?
    @Option(help: "Port to bind (floodgate.port; default 8080; 0 picks a free port).") var port: String?
    @Option(help: "Serve on this Unix domain socket instead of TCP, mode 0600 (floodgate.socket).") var socket: String?
    @Option(help: "Redis URL (redis.url): redis://[user:password@]host:port[/db] or rediss://. Default: no Redis, local-only.")
    var redis: String?
    @Option(name: .customLong("redis-ca"), help: "PEM file of the CA that signed the rediss:// server (redis.tls.ca; default: system trust roots).")
    var redisCA: String?
    @Option(help: "Bearer token required by the /v1 API (floodgate.token).") var token: String?
    @Option(help: "JSON configuration file (floodgate.config).") var config: String?

    func run() async throws {
        var flags: [String: String] = [:]
        flags["floodgate.host"] = host
        flags["floodgate.port"] = port
        flags["floodgate.socket"] = socket
        flags["redis.url"] = redis
        flags["redis.tls.ca"] = redisCA
        flags["floodgate.token"] = token
        flags["floodgate.config"] = config
        let configuration: SidecarConfiguration
        let sidecar: Sidecar
        do {
            let environment = ProcessInfo.processInfo.environment
            configuration = try await SidecarConfiguration.load(flags: flags, environment: environment)
            // SIGHUP reads the same flags, environment and file again.
            let source: @Sendable () async throws -> SidecarConfiguration = { [flags] in
                try await SidecarConfiguration.load(flags: flags, environment: environment)
            }
            sidecar = try Sidecar(configuration: configuration, configurationSource: source, logger: Logger(label: "floodgate"))
        } catch let error as SidecarConfigurationError {
            FileHandle.standardError.write(Data("floodgate: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let app = sidecar.makeApplication { channel in
            let address = channel.localAddress
            let bound = configuration.socketPath.map { "http+unix://\($0)" }
                ?? "http://\(configuration.host):\(address?.port ?? configuration.port)"
            // Written at once: `print` is block-buffered when standard output is not a terminal (a supervisor, a
            // log file), so the banner would appear only at exit.
            FileHandle.standardOutput.write(Data("""
                floodgate serving on \(bound) — mode \(sidecar.startingModeDescription)
                  dashboard \(bound)/   health \(bound)/api/health   metrics \(bound)/metrics   API \(bound)/v1 (openapi.yaml)

                """.utf8))
        }
        do {
            try await app.runService()
        } catch let error as IOError {
            throw commandFailure("cannot serve on \(configuration.host):\(configuration.port): \(error)")
        }
    }
}
