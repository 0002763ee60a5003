import Floodgate
import Synchronization
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Near-cache figures for `scripts/bench-guard`: hit ratio of CLOCK eviction on Zipf-distributed reads, against the
/// best any 100,000-entry cache could do on that distribution (always holding the most popular keys), and resident
/// memory per entry.
enum CacheFigures {
    struct Reply: Codable, Sendable {
        var text: String
    }

    /// Ranks drawn from a Zipf distribution with exponent `s` over `count` items, by inverse CDF.
    struct Zipf {
        let cumulative: [Double]
        var generator: SeededGenerator

        init(count: Int, s: Double, seed: UInt64) {
            var sum = 0.0
            var cumulative = [Double](repeating: 0, count: count)
            for rank in 0..<count {
                sum += 1 / pow(Double(rank + 1), s)
                cumulative[rank] = sum
            }
            self.cumulative = cumulative.map { $0 / sum }
            generator = SeededGenerator(seed: seed)
        }

        mutating func next() -> Int {
            let u = Double.random(in: 0..<1, using: &generator)
            var low = 0
            var high = cumulative.count - 1
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] < u { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    static func measure() async throws {
        let capacity = 100_000
        let universe = 1_000_000
        let reads = 2_000_000
        let cache = try ResponseCache(configuration: .init(maximumEntries: capacity, maximumBytes: 1 << 30), store: .memory)
        var zipf = Zipf(count: universe, s: 1.1, seed: 42)
        let ceiling = zipf.cumulative[capacity - 1]
        let before = BenchGuard.residentBytes()
        var hits = 0
        for index in 0..<reads {
            let key = "object-\(zipf.next())"
            let before = cache.statistics.loads
            _ = try await cache.value(for: key, ttl: .seconds(86_400)) { Reply(text: String(repeating: "x", count: 200)) }
            if index >= reads / 2, cache.statistics.loads == before { hits += 1 }
        }
        let (entries, _) = cache.nearCount
        let perEntry = (BenchGuard.residentBytes() - before) / max(1, entries)
        print("| near cache, \(capacity) entries, Zipf s=1.1 over \(universe) keys, \(reads) reads | value |")
        print("|---|---:|")
        print("| hit ratio, CLOCK (second half of the run) | \(percent(Double(hits) / Double(reads / 2))) |")
        print("| best possible for \(capacity) entries (the most popular keys, always cached) | \(percent(ceiling)) |")
        print("| resident bytes per entry (200-byte value) | \(perEntry) |")
    }

    /// Median time of a near-cache hit over batches of 10,000 reads of 10,000 entries, beside its floor in the same
    /// run, rounds interleaved: the same reads from a `[String: Reply]` behind a `Mutex` (a lock, a string hash, a
    /// copy out), which any shared near cache pays.
    static func hitTime() async throws {
        let cache = try ResponseCache(store: .memory)
        let keys = (0..<10_000).map { "object-\($0)" }
        let reply = Reply(text: String(repeating: "x", count: 200))
        for key in keys { _ = try await cache.value(for: key, ttl: .seconds(86_400)) { reply } }
        let floor = Mutex(Dictionary(uniqueKeysWithValues: keys.map { ($0, reply) }))
        var index = 0
        var hits: [Double] = []
        var floors: [Double] = []
        for _ in 0..<5 {
            hits += try await BenchGuard.batchTimes(rounds: 40) {
                index = (index &+ 7_919) % keys.count
                _ = try await cache.value(for: keys[index], ttl: .seconds(86_400)) { nil as Reply? }
            }
            floors += BenchGuard.syncBatchTimes(rounds: 40) {
                index = (index &+ 7_919) % keys.count
                let key = keys[index]
                _ = floor.withLock { $0[key] }
            }
        }
        hits.sort()
        floors.sort()
        print("| near-cache hit, 10,000 entries | p50 \(Int(hits[100])) ns | p90 \(Int(hits[180])) ns |")
        print("| floor: Mutex<[String: Reply]> lookup, same keys | p50 \(Int(floors[100])) ns | p90 \(Int(floors[180])) ns |")
        print("| ratio of the medians | \(String(format: "%.2f", hits[100] / floors[100]))× | |")
    }

    static func percent(_ value: Double) -> String { "\((value * 1000).rounded() / 10)%" }
}

#if canImport(Glibc)
import Glibc
#endif
