import Floodgate
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Memory per key and decision time as the number of keys grows, for `scripts/bench-guard`.
///
/// For each key count: resident memory before and after one decision on every key (HubSpot profile, local-only
/// store, so nothing but the guard state is allocated), then the median time of a decision (`tryAcquire` + `record`,
/// the synchronous API; `acquire` adds its async frame, see GuardBenchmarks) over
/// batches of 10,000 spread across all keys.
@main
struct BenchGuard {
    static func residentBytes() -> Int {
        let descriptor = open("/proc/self/statm", O_RDONLY)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 128)
        let count = read(descriptor, &bytes, bytes.count)
        guard count > 0 else { return 0 }
        let fields = String(decoding: bytes[..<count], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Nanoseconds per operation in each of 200 batches of 10,000 runs of `operation`, sorted; `between` runs
    /// after each batch, untimed.
    static func batchTimes(
        rounds: Int = 200,
        between: () -> Void = {},
        _ operation: () async throws -> Void
    ) async rethrows -> [Double] {
        let timer = ContinuousClock()
        var samples: [Double] = []
        for _ in 0..<rounds {
            let started = timer.now
            for _ in 0..<10_000 { try await operation() }
            let elapsed = started.duration(to: timer.now)
            samples.append((Double(elapsed.components.attoseconds) / 1e9 + Double(elapsed.components.seconds) * 1e9) / 10_000)
            between()
        }
        return samples.sorted()
    }

    /// ``batchTimes(rounds:between:_:)`` for a synchronous operation.
    static func syncBatchTimes(rounds: Int, _ operation: () -> Void) -> [Double] {
        let timer = ContinuousClock()
        var samples: [Double] = []
        for _ in 0..<rounds {
            let started = timer.now
            for _ in 0..<10_000 { operation() }
            let elapsed = started.duration(to: timer.now)
            samples.append((Double(elapsed.components.attoseconds) / 1e9 + Double(elapsed.components.seconds) * 1e9) / 10_000)
        }
        return samples.sorted()
    }

    static func main() async throws {
        if CommandLine.arguments.dropFirst().first == "cache-hit" {
            try await CacheFigures.hitTime()
            return
        }
        if CommandLine.arguments.dropFirst().first == "cache" {
            try await CacheFigures.hitTime()
            try await CacheFigures.measure()
            return
        }
        if CommandLine.arguments.dropFirst().first == "propagation" {
            try await Propagation.measure(rounds: 200, url: CommandLine.arguments.dropFirst(2).first)
            return
        }
        print("| keys | resident bytes per key | tryAcquire + record p50 (ns) | p90 (ns) |")
        print("|---:|---:|---:|---:|")
        for count in CommandLine.arguments.dropFirst().compactMap({ Int($0) }).nilIfEmpty ?? [1, 100, 10_000, 100_000, 1_000_000] { try await measure(count) }
    }

    /// Off the main actor: decisions run on the caller's executor, so the main actor would add a hop per call.
    nonisolated static func measure(_ count: Int) async throws {
        do {
            let keys = (0..<count).map { try! GuardKey(integration: "hubspot", tenant: "tenant-\($0)") }
            let clock = BenchClock()
            let floodgate = try Floodgate(
                configuration: FloodgateConfiguration(
                    profiles: ["hubspot": .hubSpot(perTenSeconds: 1_000_000_000, perDay: 1_000_000_000)]
                ),
                store: .memory,
                clock: clock
            )
            let before = residentBytes()
            for key in keys { floodgate.record(try await floodgate.acquire(key), .success) }
            let perKey = (residentBytes() - before) / count
            var index = 0
            let samples = try await BenchGuard.batchTimes(between: { clock.advance(by: .milliseconds(10)) }) {
                index = (index &+ 7_919) % count
                floodgate.record(try floodgate.tryAcquire(keys[index])!, .success)
            }
            print("| \(count) | \(perKey) | \(Int(samples[samples.count / 2])) | \(Int(samples[samples.count * 9 / 10])) |")
        }
    }
}

extension Array {
    var nilIfEmpty: Self? { isEmpty ? nil : self }
}

/// A clock read with one atomic load, moved by the benchmark between batches (a `ManualClock` takes a lock per read,
/// which would be measured as part of every decision). It never sleeps: the benchmark's Floodgate is not run.
final class BenchClock: Clock, Sendable {
    private let nanoseconds = Atomic<Int64>(1_767_225_600_000_000_000)

    var now: WallInstant { WallInstant(nanosecondsSince1970: nanoseconds.load(ordering: .relaxed)) }
    var minimumResolution: Duration { .nanoseconds(1) }

    func advance(by duration: Duration) {
        nanoseconds.add(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000, ordering: .relaxed)
    }

    func sleep(until deadline: WallInstant, tolerance: Duration?) async throws {
        try await Task.sleep(for: now.duration(to: deadline))
    }
}
