import ArgumentParser
import ClientWorkloads
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Measures GETs per second on one connection, sequential and pipelined, against the server at `--redis`.
/// scripts/bench-client runs it next to redis-benchmark on the same server.
@main
struct BenchClient: AsyncParsableCommand {
    @Option(help: "Redis URL to benchmark against.")
    var redis: String

    @Option(help: "GETs per measurement.")
    var requests = 200_000

    @Option(help: "Pipeline depth.")
    var pipeline = 16

    @Option(help: "Measurements per workload; the best is reported, as a steady-state figure.")
    var rounds = 3

    @Flag(help: "Install NIO's event loops as Swift's global executor before measuring.")
    var nioGlobalExecutor = false

    @Option(help: "Measure only GETs of random keys among this many (spread over a cluster's slots), from --tasks tasks.")
    var spreadKeys = 0

    @Option(help: "Concurrent tasks for --spread-keys.")
    var tasks = 50

    func run() async throws {
        if nioGlobalExecutor {
            guard NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() else {
                throw ValidationError("NIO could not be installed as the global executor")
            }
        }
        let bench = try await BenchmarkClient.start(url: redis)
        if spreadKeys > 0 {
            let gets = try await bench.spreadKeys(spreadKeys)
            try await bench.spreadGets(10_000, tasks: tasks, gets: gets)
            var spread = 0.0
            for _ in 0..<rounds {
                spread = max(spread, try await measure(requests) { try await bench.spreadGets(requests, tasks: tasks, gets: gets) })
            }
            await bench.stop()
            print("client spread GET/s \(Int(spread))")
            return
        }
        // Warm up the connection, allocator and code paths.
        try await bench.sequentialGets(10_000)
        try await bench.pipelinedGets(batches: 1_000, depth: pipeline)
        let onLoop = EventLoopRunner(bench)
        let batches = requests / pipeline
        var sequential = 0.0
        var pipelined = 0.0
        var loopSequential = 0.0
        var loopPipelined = 0.0
        for _ in 0..<rounds {
            sequential = max(sequential, try await measure(requests) { try await bench.sequentialGets(requests) })
            pipelined = max(pipelined, try await measure(batches * pipeline) {
                try await bench.pipelinedGets(batches: batches, depth: pipeline)
            })
            loopSequential = max(loopSequential, try await measure(requests) { try await onLoop.sequentialGets(requests) })
            loopPipelined = max(loopPipelined, try await measure(batches * pipeline) {
                try await onLoop.pipelinedGets(batches: batches, depth: pipeline)
            })
        }
        await bench.stop()
        print("client sequential GET/s \(Int(sequential))")
        print("client pipelined GET/s \(Int(pipelined))")
        print("client on-event-loop sequential GET/s \(Int(loopSequential))")
        print("client on-event-loop pipelined GET/s \(Int(loopPipelined))")
    }

    private func measure(_ operations: Int, _ body: () async throws -> Void) async throws -> Double {
        let clock = ContinuousClock()
        let elapsed = try await clock.measure { try await body() }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(operations) / seconds
    }
}
