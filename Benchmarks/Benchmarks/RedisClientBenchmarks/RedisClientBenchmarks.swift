import Benchmark
import ClientWorkloads
import FloodgateRESP
import FloodgateRedis
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// GET throughput and allocations on one connection against a private redis-server (or FLOODGATE_BENCH_REDIS).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        scalingFactor: .kilo,
        maxDuration: .seconds(5),
        maxIterations: 100
    )

    nonisolated(unsafe) var shared: BenchmarkClient?
    let url = getenv("FLOODGATE_BENCH_REDIS").map { String(cString: $0) }
    // Each I/O benchmark gets its own connected client (and private server unless FLOODGATE_BENCH_REDIS is set).
    let withServer = Benchmark.Configuration(
        setup: { shared = try await BenchmarkClient.start(url: url) },
        teardown: {
            await shared?.stop()
            shared = nil
        }
    )

    Benchmark(
        "GET sequential (one connection)",
        configuration: withServer
    ) { benchmark in
        try await shared!.sequentialGets(benchmark.scaledIterations.count)
    }

    Benchmark(
        "GET pipelined 16 deep (one connection)",
        configuration: withServer
    ) { benchmark in
        // One iteration is one GET: batches of 16.
        try await shared!.pipelinedGets(batches: max(1, benchmark.scaledIterations.count / 16), depth: 16)
    }

    Benchmark(
        "GET from 50 concurrent tasks (one connection)",
        configuration: withServer
    ) { benchmark in
        try await shared!.concurrentGets(benchmark.scaledIterations.count, tasks: 50)
    }

    // The codec alone: decode a GET reply and encode a GET command, no I/O.
    Benchmark("RESP decode bulk reply + encode GET command", configuration: .init(scalingFactor: .mega)) { benchmark in
        let wire = ByteBuffer(string: "$3\r\nxxx\r\n")
        var decoder = RESPDecoder()
        for _ in benchmark.scaledIterations {
            var input = wire
            blackHole(try decoder.decode(buffer: &input))
            blackHole(RedisCommand("GET", "key:__rand_int__"))
        }
    }
}
