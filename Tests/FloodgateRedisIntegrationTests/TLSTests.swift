import FloodgateLocalRedis
import FloodgateRESP
import FloodgateRedis
import FloodgateTestSupport
import Logging
import NIOPosix
import Testing

@Suite("TLS", .timeLimit(.minutes(3)))
struct TLSTests {
    @Test func verifiesTheServerAgainstACustomCA() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        try await withRedisServer(.init(tls: certificates.redisTLSFiles)) { server in
            var configuration = try RedisClientConfiguration(url: "rediss://localhost:\(server.port)")
            configuration.tls = .trusting(caCertificatePath: certificates.caCertificate)
            configuration.commandTimeout = .seconds(5)
            try await withRunningClient(configuration) { (client) async throws in
                #expect(try await client.ping() == "PONG")
                try await client.set("over-tls", to: "yes")
                #expect(try await client.getString("over-tls") == "yes")
            }
        }
    }

    /// A TLS-only server, and a client configuration trusting another CA than the one that signed it.
    static func withServerSignedByAnotherCA(_ body: (LocalRedisServer, RedisClientConfiguration) async throws -> Void) async throws {
        let certificates = try await TestCertificates.make()
        let stranger = try await TestCertificates.make()
        defer {
            certificates.remove()
            stranger.remove()
        }
        try await withRedisServer(.init(tls: certificates.redisTLSFiles)) { server in
            var configuration = try RedisClientConfiguration(url: "rediss://localhost:\(server.port)")
            configuration.tls = .trusting(caCertificatePath: stranger.caCertificate)
            try await body(server, configuration)
        }
    }

    @Test func refusesAServerSignedByAnotherCA() async throws {
        try await Self.withServerSignedByAnotherCA { server, configuration in
            let error = await #expect(throws: RedisClientError.self) {
                try await connectOnce(configuration)
            }
            #expect(error?.code == .tls)
            // The default (system trust roots) refuses the self-signed CA too.
            let defaults = try RedisClientConfiguration(url: "rediss://localhost:\(server.port)")
            let defaultError = await #expect(throws: RedisClientError.self) {
                try await connectOnce(defaults)
            }
            #expect(defaultError?.code == .tls)
        }
    }

    /// A rejection will not fix itself: the client logs it as an error at the first attempt and then every 60th,
    /// not on every attempt (the others at debug level).
    @Test func aRejectedConnectionIsLoggedOnceEverySixtyAttempts() async throws {
        try await Self.withServerSignedByAnotherCA { _, configuration in
            var configuration = configuration
            configuration.reconnectBackoff = .init(initial: .milliseconds(1), maximum: .milliseconds(2))
            let (logger, logs) = recordingLogger()
            try await withRunningClient(configuration, logger: logger) { (client) async throws in
                try await eventually("121 refused attempts", within: .seconds(60)) { client.accounting.connectionAttempts().failed >= 121 }
                let errors = logs.entries.filter { $0.level == .error }
                let attempts = client.accounting.connectionAttempts()
                #expect(attempts.connected == 0 && attempts.failed < 180)
                #expect(errors.count == 3, "attempts 1, 60 and 120 of \(attempts.failed): \(errors.map(\.message))")
                #expect(errors.allSatisfy { "\($0.message)".contains("Redis rejected the connection") })
                #expect(errors.map { $0.metadata["redis.attempts"].map { "\($0)" } } == ["1", "60", "120"])
            }
        }
    }
}
