// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that `swift test` on the root never builds the benchmark harness.
let package = Package(
    name: "floodgate-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "floodgate", path: "../"),
        // The explicit trait list leaves out the default RuntimeInterposer, whose package is not available here.
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // The workloads both runners share: GETs on one connection, sequential and pipelined.
        .target(
            name: "ClientWorkloads",
            dependencies: [
                .product(name: "FloodgateRedis", package: "floodgate"),
                .product(name: "FloodgateLocalRedis", package: "floodgate"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // ordo-one/benchmark suite: time and allocations per operation.
        .executableTarget(
            name: "RedisClientBenchmarks",
            dependencies: [
                "ClientWorkloads",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "FloodgateRESP", package: "floodgate"),
                .product(name: "FloodgateRedis", package: "floodgate"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/RedisClientBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // ordo-one/benchmark suite for the guards: one decision (acquire + record) on held capacity.
        .executableTarget(
            name: "GuardBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Floodgate", package: "floodgate"),
            ],
            path: "Benchmarks/GuardBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Memory per key and decision time as keys grow to 1M, and fleet propagation times, for scripts/bench-guard.
        .executableTarget(
            name: "bench-guard",
            dependencies: [
                .product(name: "Floodgate", package: "floodgate"),
                .product(name: "FloodgateRedis", package: "floodgate"),
                .product(name: "FloodgateLocalRedis", package: "floodgate"),
            ]
        ),
        // Throughput for scripts/bench-client, which compares it with redis-benchmark on the same server.
        .executableTarget(
            name: "bench-client",
            dependencies: [
                "ClientWorkloads",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)
