@testable import FloodgateCore
import Testing

@Suite("Provider back-off", .timeLimit(.minutes(3)))
struct ProviderBackoffTests {
    static let second: Int64 = 1_000_000_000
    let start: Int64 = 1_767_225_600 * second

    @Test func holdsBackUntilRetryAfterPlusThisInstancesJitter() {
        var backoff = ProviderBackoff()
        var generator = SeededGenerator(seed: 7)
        #expect(backoff.admit(at: start) == .allowed)
        #expect(backoff.throttle(until: start + 30 * Self.second, jitterWindow: 2 * Self.second, using: &generator))
        let release = start + 30 * Self.second + backoff.jitter
        #expect((0...(2 * Self.second)).contains(backoff.jitter))
        #expect(backoff.admit(at: start + 29 * Self.second) == .refused(retryAt: release))
        #expect(backoff.admit(at: release - 1) == .refused(retryAt: release))
        #expect(backoff.admit(at: release) == .allowed)
        #expect(backoff.admit(at: release + 1) == .allowed, "released for good")
    }

    @Test func keepsTheLaterOfOverlappingBackoffs() {
        var backoff = ProviderBackoff()
        var generator = SeededGenerator(seed: 1)
        #expect(backoff.throttle(until: start + 60 * Self.second, jitterWindow: 0, using: &generator))
        #expect(!backoff.throttle(until: start + 10 * Self.second, jitterWindow: 0, using: &generator), "not news")
        #expect(backoff.until == start + 60 * Self.second)
        #expect(backoff.throttle(until: start + 90 * Self.second, jitterWindow: 0, using: &generator))
    }

    @Test func aFleetReturnsSpreadOverTheJitterWindow() {
        var generator = SeededGenerator(seed: 42)
        var releases: [Int64] = []
        for _ in 0..<200 {
            var backoff = ProviderBackoff()
            _ = backoff.throttle(until: start, jitterWindow: 5 * Self.second, using: &generator)
            guard case .refused(let release) = backoff.admit(at: start - 1) else { continue }
            releases.append(release)
        }
        let spread = (releases.max() ?? 0) - (releases.min() ?? 0)
        #expect(spread > 4 * Self.second, "instances come back at different moments, not all at once")
        #expect(releases.allSatisfy { $0 >= start && $0 <= start + 5 * Self.second })
    }
}
