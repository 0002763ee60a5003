// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "floodgate",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "FloodgateRESP", targets: ["FloodgateRESP"]),
        .library(name: "FloodgateRedis", targets: ["FloodgateRedis"]),
        .library(name: "FloodgateLocalRedis", targets: ["FloodgateLocalRedis"]),
        .library(name: "FloodgateCore", targets: ["FloodgateCore"]),
        .library(name: "FloodgateBudget", targets: ["FloodgateBudget"]),
        .library(name: "Floodgate", targets: ["Floodgate"]),
        .library(name: "FloodgateTesting", targets: ["FloodgateTesting"]),
        .library(name: "FloodgateServer", targets: ["FloodgateServer"]),
        .executable(name: "floodgate", targets: ["floodgate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        // RESP2/RESP3 values, encoder and decoder. Pure code over ByteBuffer: NIOCore only.
        .target(
            name: "FloodgateRESP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        // The Redis client: connections, pipelining, pool, commands, scripts, pub/sub, tracking, TLS, accounting.
        .target(
            name: "FloodgateRedis",
            dependencies: [
                "FloodgateRESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Async APIs run on their caller's executor: a caller on the connection's event loop never hops.
            swiftSettings: strictSettings + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
        // The decision engine, sans-IO: keys, policies, limits, breakers, back-off, demand leases, the membership
        // view, and the typed effects a driver performs. No Redis, HTTP or configuration dependency.
        .target(
            name: "FloodgateCore",
            swiftSettings: strictSettings + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
        // The Redis command budget of a pay-per-command plan. Apart from the cache, which depends on it: the budget
        // cannot import the cache, so "the budget cannot reach the cache" (no recursion) is checked by the compiler.
        .target(
            name: "FloodgateBudget",
            dependencies: [
                "FloodgateCore",
                "FloodgateRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
        // Test support for apps that guard calls with Floodgate: a manual clock to drive windows, leases and breakers.
        .target(
            name: "FloodgateTesting",
            dependencies: ["FloodgateCore"],
            swiftSettings: strictSettings
        ),
        // The driver: the `Floodgate` service that performs the engine's effects on Redis (the key schema, the
        // ledger, membership, pub/sub), the two-tier response cache, response classification.
        .target(
            name: "Floodgate",
            dependencies: [
                "FloodgateCore",
                "FloodgateBudget",
                "FloodgateRedis",
                "FloodgateRESP",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // A decision runs on its caller's executor: no hop to the global executor and back per call.
            swiftSettings: strictSettings + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
        // The incident workload and its scenarios: call schedule, deploys, partitions, figures (for `floodgate simulate`).
        .target(
            name: "FloodgateSimulation",
            dependencies: [
                "Floodgate",
                "FloodgateTesting",
                "FloodgateRedis",
                "FloodgateLocalRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The sidecar: Floodgate over loopback HTTP for apps in any language, with health, metrics and a dashboard.
        .target(
            name: "FloodgateServer",
            dependencies: [
                "Floodgate",
                "FloodgateRedis",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // Starts and stops a private `redis-server` child on a free loopback port (tests, CLI's embedded default).
        .target(
            name: "FloodgateLocalRedis",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "floodgate",
            dependencies: [
                "Floodgate",
                "FloodgateRedis",
                "FloodgateLocalRedis",
                "FloodgateSimulation",
                "FloodgateServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Helpers shared by the test targets (bounded waits, throwaway TLS certificates); not a product.
        .target(
            name: "FloodgateTestSupport",
            dependencies: ["FloodgateLocalRedis"],
            path: "Tests/FloodgateTestSupport",
            swiftSettings: strictSettings
        ),
        // The engine alone: limits, breakers, back-off, demand leases, keys, policies, clocks. No Redis, no I/O.
        .testTarget(
            name: "FloodgateCoreTests",
            dependencies: ["FloodgateCore", "FloodgateTesting", "FloodgateTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FloodgateTests",
            dependencies: [
                "Floodgate",
                "FloodgateTesting",
                "FloodgateSimulation",
                "FloodgateTestSupport",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: strictSettings
        ),
        // Guards against a real redis-server that each test starts itself.
        .testTarget(
            name: "FloodgateIntegrationTests",
            dependencies: [
                "Floodgate",
                "FloodgateTesting",
                "FloodgateRedis",
                "FloodgateLocalRedis",
                "FloodgateSimulation",
                "FloodgateTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The sidecar's HTTP API in-process (HummingbirdTesting) and live, on the memory store and on a real Redis.
        .testTarget(
            name: "FloodgateServerTests",
            dependencies: [
                "Floodgate",
                "FloodgateServer",
                "FloodgateRedis",
                "FloodgateLocalRedis",
                "FloodgateTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FloodgateRESPTests",
            dependencies: [
                "FloodgateRESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FloodgateRedisTests",
            dependencies: [
                "FloodgateRedis",
                "FloodgateRESP",
                "FloodgateTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // Tests against a real redis-server that each suite starts itself on a free loopback port.
        .testTarget(
            name: "FloodgateRedisIntegrationTests",
            dependencies: [
                "FloodgateRedis",
                "FloodgateRESP",
                "FloodgateLocalRedis",
                "FloodgateTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
