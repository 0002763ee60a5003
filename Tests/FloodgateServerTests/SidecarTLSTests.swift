import FloodgateLocalRedis
import FloodgateRedis
import FloodgateTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import Testing

@testable import FloodgateServer

/// The sidecar to a `rediss://` server with an ACL user: the server's certificate is verified against the configured
/// CA (`REDIS_TLS_CA`), and a server signed by another CA is never talked to.
@Suite("Sidecar over TLS with an ACL user", .serialized, .timeLimit(.minutes(3)))
struct SidecarTLSTests {
    static let user = "floodgate"
    static let password = "acl-password-not-for-logs"

    /// A TLS-only redis-server whose default user is off: only `user` may run commands.
    static func withTLSRedis(_ body: (LocalRedisServer, TestCertificates) async throws -> Void) async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let server = try await LocalRedisServer.start(.init(
            arguments: ["--user", "default", "off", "--user", user, "on", ">\(password)", "~*", "&*", "+@all"],
            tls: certificates.redisTLSFiles
        ))
        defer { server.stop() }
        try await body(server, certificates)
    }

    static func url(_ server: LocalRedisServer) -> String { "rediss://\(user):\(password)@localhost:\(server.port)" }

    @Test func withTheRightCAItRunsSharedAsTheACLUser() async throws {
        try await Self.withTLSRedis { server, certificates in
            let sidecar = try await makeSidecar([
                "REDIS_URL": Self.url(server), "REDIS_TLS_CA": certificates.caCertificate, "FLOODGATE_PORT": "0",
            ])
            try await sidecar.makeApplication().test(.live) { client in
                try await eventually("shared mode over TLS") { sidecar.modeName == "shared" }
                let acquired = try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T1"}"#)
                #expect(acquired.status == .ok)

                // Another client over TLS, as the same user, sees the sidecar's connection and its user.
                var observerConfiguration = try RedisClientConfiguration(url: Self.url(server))
                observerConfiguration.tls = .trusting(caCertificatePath: certificates.caCertificate)
                let observer = try RedisClient(configuration: observerConfiguration)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await observer.run() }
                    defer { group.cancelAll() }
                    let clients = try await observer.send(command: "CLIENT", arguments: ["LIST"]).string ?? ""
                    let sidecarLine = clients.split(separator: "\n").first { $0.contains("name=floodgate-") }
                    #expect(sidecarLine?.contains("user=\(Self.user)") == true, "\(clients)")
                }
                let health = try await client.send(.get, "/api/health")
                let redis = health.object["redis"] as? [String: Any]
                #expect(redis?["reachable"] as? Bool == true)
                #expect((redis?["connectionsOpened"] as? Int ?? 0) >= 1)
                #expect(!health.text.contains(Self.password))
            }
        }
    }

    @Test func aServerSignedByAnotherCAIsNeverTrusted() async throws {
        try await Self.withTLSRedis { server, _ in
            let stranger = try await TestCertificates.make()
            defer { stranger.remove() }
            let handler = InMemoryLogHandler()
            var logger = Logger(label: "floodgate.test") { _ in handler }
            logger.logLevel = .trace
            let configuration = try await SidecarConfiguration.load(flags: [:], environment: [
                "REDIS_URL": Self.url(server), "REDIS_TLS_CA": stranger.caCertificate, "FLOODGATE_PORT": "0",
            ])
            let sidecar = try Sidecar(configuration: configuration, logger: logger)
            try await sidecar.makeApplication().test(.live) { client in
                // Decisions go on locally; the sidecar reports Redis unreachable, never shared.
                let acquired = try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T1"}"#)
                #expect(acquired.status == .ok)
                try await eventually("two refused attempts") { (sidecar.redis?.accounting.connectionAttempts().failed ?? 0) >= 2 }
                let health = try await client.send(.get, "/api/health")
                #expect(health.status == .serviceUnavailable)
                let redis = health.object["redis"] as? [String: Any]
                #expect(redis?["reachable"] as? Bool == false)
                #expect(redis?["connectionsOpened"] as? Int == 0)
                let failed = redis?["connectionAttemptsFailed"] as? Int ?? 0
                #expect(failed >= 2, "every attempt is refused and counted")
                let dashboard = try await client.send(.get, "/api/dashboard")
                #expect((dashboard.object["connectionAttemptsFailed"] as? Int ?? 0) >= failed, "the dashboard shows them too")
                // The exported metric itself, as Prometheus scrapes it.
                let metrics = try await client.send(.get, "/metrics").text
                let exported = Self.metric(#"floodgate_redis_connection_attempts_total{outcome="failed"}"#, in: metrics)
                #expect((exported ?? 0) >= Double(failed), "\(metrics.split(separator: "\n").filter { $0.contains("attempts") })")
                #expect(Self.metric(#"floodgate_redis_connection_attempts_total{outcome="connected"}"#, in: metrics) ?? 0 == 0)
                #expect(sidecar.modeName != "shared")
                for body in [health.text, dashboard.text, metrics] { #expect(!body.contains(Self.password)) }
            }
            // The rejection is logged as an error once (then every 60th attempt), and the password nowhere.
            let logged = handler.entries.map { "\($0.message) \($0.metadata)" }
            #expect(handler.entries.filter { $0.level == .error && "\($0.message)".contains("Redis rejected the connection") }.count == 1)
            #expect(!logged.isEmpty && logged.allSatisfy { !$0.contains(Self.password) })
        }
    }

    /// The value of the sample named `sample` (name and labels, as exported) in a Prometheus text page.
    static func metric(_ sample: String, in page: String) -> Double? {
        page.split(separator: "\n").first { $0.hasPrefix(sample + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }
}
