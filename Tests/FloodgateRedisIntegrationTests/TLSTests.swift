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

    @Test func refusesAServerSignedByAnotherCA() async throws {
        let certificates = try await TestCertificates.make()
        let stranger = try await TestCertificates.make()
        defer {
            certificates.remove()
            stranger.remove()
        }
        try await withRedisServer(.init(tls: certificates.redisTLSFiles)) { server in
            var configuration = try RedisClientConfiguration(url: "rediss://localhost:\(server.port)")
            configuration.tls = .trusting(caCertificatePath: stranger.caCertificate)
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
}
