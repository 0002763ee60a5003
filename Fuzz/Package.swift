// swift-tools-version: 6.1
import PackageDescription

// libFuzzer target for the RESP decoder. Built only by scripts/fuzz-resp, with -sanitize=fuzzer,address
// (libFuzzer supplies main), so it lives outside the root package.
let package = Package(
    name: "floodgate-fuzz",
    dependencies: [
        .package(name: "floodgate", path: "../"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "resp-fuzzer",
            dependencies: [
                .product(name: "FloodgateRESP", package: "floodgate"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        )
    ]
)
