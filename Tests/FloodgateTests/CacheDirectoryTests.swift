import Testing
@testable import Floodgate

/// The cache directory's state machine: what it answers after each kind of event, and that it answers "absent"
/// only when complete.
@Suite("Cache directory", .timeLimit(.minutes(3)))
struct CacheDirectoryTests {
    static let second: Int64 = 1_000_000_000

    func directory(entries: Int = 100, bytes: Int = 1 << 20, horizon: Duration = .seconds(60)) -> CacheDirectory {
        CacheDirectory(maximumEntries: entries, maximumBytes: bytes, horizon: horizon)
    }

    func complete(_ directory: inout CacheDirectory, found: [String] = [], at now: Int64 = 0) {
        let epoch = directory.streamUpScanning()
        directory.scanFound(found, epoch: epoch, at: now)
        directory.scanFinished(epoch: epoch, at: now)
    }

    /// The version of a `mayExist` answer; nil for any other.
    func version(_ answer: CacheDirectory.Answer) -> UInt64? {
        if case .mayExist(let version) = answer { return version }
        return nil
    }

    func mayExist(_ answer: CacheDirectory.Answer) -> Bool { version(answer) != nil }

    @Test func withoutAStreamOrBeforeTheScanEndsNothingIsKnown() {
        var directory = directory()
        directory.written("k", expiresAt: 100 * Self.second, at: 0)
        #expect(directory.answer("k", at: 0) == .unknown, "no stream: even an entry may be out of date")
        #expect(directory.answer("other", at: 0) == .unknown)
        let epoch = directory.streamUpScanning()
        #expect(directory.answer("other", at: 0) == .unknown, "scanning")
        directory.scanFinished(epoch: epoch, at: 0)
        #expect(directory.answer("other", at: 0) == .absent)
        #expect(directory.completeness(at: 0) == .complete)
    }

    @Test func whatTheScanFoundMayExistAndTheRestIsAbsent() {
        var directory = directory()
        complete(&directory, found: ["a", "b"])
        #expect(mayExist(directory.answer("a", at: 0)) && mayExist(directory.answer("b", at: 0)))
        #expect(directory.answer("c", at: 0) == .absent)
    }

    @Test func writesRemovalsAndUntypedChanges() {
        var directory = directory()
        complete(&directory)
        directory.written("w", expiresAt: 10 * Self.second, at: 0)
        #expect(mayExist(directory.answer("w", at: 9 * Self.second)))
        #expect(directory.answer("w", at: 10 * Self.second) == .absent, "past its known expiry")
        directory.removed("w")
        #expect(directory.answer("w", at: 0) == .absent)
        directory.changed("c", at: 0)
        #expect(mayExist(directory.answer("c", at: 59 * Self.second)), "unknown expiry: may exist for the horizon")
        #expect(directory.answer("c", at: 60 * Self.second) == .absent, "no writer may keep it longer")
        #expect(directory.count == 0, "w was removed, and c's entry leaves at the horizon")
    }

    @Test func anUntypedChangeAfterTheKnownExpiryIsNotTakenForTheExpiry() {
        var directory = directory()
        complete(&directory)
        directory.written("k", expiresAt: 10 * Self.second, at: 0)
        // Redis may fold the expiry and a new write into one invalidation: the key may exist.
        directory.changed("k", at: 11 * Self.second)
        #expect(mayExist(directory.answer("k", at: 12 * Self.second)))
    }

    @Test func aReadResultCountsOnlyIfNoEventCameMeanwhile() throws {
        var directory = directory()
        complete(&directory, found: ["k"])
        let first = try #require(version(directory.answer("k", at: 0)), "k may exist")
        directory.readFoundNothing("k", version: first)
        #expect(directory.answer("k", at: 0) == .absent)
        directory.written("k", expiresAt: nil, at: 0)
        let stale = try #require(version(directory.answer("k", at: 0)), "k may exist")
        directory.written("k", expiresAt: nil, at: 1)  // a write lands while the GET is on its way
        directory.readFoundNothing("k", version: stale)
        #expect(mayExist(directory.answer("k", at: 1)), "the GET's nil predates the write")
        let current = try #require(version(directory.answer("k", at: 1)), "k may exist")
        directory.readFound("k", expiresAt: 5 * Self.second, version: current)
        #expect(directory.answer("k", at: 5 * Self.second) == .absent, "the read taught it the expiry")
    }

    @Test func losingTheStreamForgetsEverythingAndAnOldScanCannotComplete() {
        var directory = directory()
        complete(&directory, found: ["k"])
        let oldEpoch = directory.streamUpScanning()
        directory.streamLost()
        #expect(directory.answer("k", at: 0) == .unknown && directory.count == 0)
        let epoch = directory.streamUpScanning()
        directory.scanFinished(epoch: oldEpoch, at: 0)
        #expect(directory.completeness(at: 0) == .scanning, "the old scan's end does not count")
        directory.scanFinished(epoch: epoch, at: 0)
        #expect(directory.completeness(at: 0) == .complete)
    }

    @Test func withoutAScanItIsCompleteAfterTheHorizon() {
        var directory = directory()
        directory.streamUpWithoutScan(at: 0)
        #expect(directory.answer("k", at: 59 * Self.second) == .unknown)
        #expect(directory.answer("k", at: 60 * Self.second) == .absent)
        var failed = self.directory()
        let epoch = failed.streamUpScanning()
        failed.scanFailed(epoch: epoch, at: 0)
        #expect(failed.completeness(at: 0) == .waitingForHorizon)
        #expect(failed.completeness(at: 60 * Self.second) == .complete)
    }

    @Test func whenFullItStopsAnsweringAbsentUntilWhatItDroppedHasExpired() {
        var directory = directory(entries: 3)
        complete(&directory)
        for index in 0..<5 { directory.written("k\(index)", expiresAt: nil, at: 0) }
        #expect(directory.count == 3)
        #expect(directory.overflows == 2)
        #expect(directory.answer("k4", at: 0) == .unknown, "dropped: read Redis")
        #expect(directory.answer("never", at: 0) == .unknown)
        #expect(mayExist(directory.answer("k0", at: 0)))
        // Past the horizon every dropped key has expired in Redis: complete again, and the sweep makes room.
        #expect(directory.answer("never", at: 60 * Self.second) == .absent)
        directory.written("new", expiresAt: nil, at: 61 * Self.second)
        #expect(directory.count == 1)
        #expect(directory.completeness(at: 61 * Self.second) == .complete)
    }

    @Test func theByteBoundHoldsToo() {
        var directory = directory(entries: 1_000, bytes: 500)
        complete(&directory)
        for index in 0..<100 { directory.written("key-\(index)", expiresAt: nil, at: 0) }
        #expect(directory.bytes <= 500 && directory.count < 100)
        #expect(directory.completeness(at: 0) == .waitingForHorizon)
    }

    @Test func publishedInvalidationsRoundTripAndTheFirstFormatIsAChange() {
        let cases: [PublishedInvalidation] = [.written("a b", expiresAtMs: 1_234), .removed("x/y"), .changed("k")]
        for invalidation in cases {
            let parsed = PublishedInvalidation.parse(invalidation.message(from: "tag"))
            #expect(parsed?.tag == "tag" && parsed?.invalidation == invalidation)
        }
        #expect(PublishedInvalidation.parse("oldtag some key")?.invalidation == .changed("some key"))
        #expect(PublishedInvalidation.parse("nospace") == nil)
    }

    @Test func theKeyspaceClassesTheDirectoryNeeds() {
        #expect(ResponseCache.missingKeyspaceClasses(in: "") == "K$gxe")
        #expect(ResponseCache.missingKeyspaceClasses(in: "KA") == "")
        #expect(ResponseCache.missingKeyspaceClasses(in: "AE") == "K")
        #expect(ResponseCache.missingKeyspaceClasses(in: "Kx$") == "ge")
        #expect(ResponseCache.globEscaped("fg*[x]:c:") == "fg\\*\\[x\\]:c:")
    }
}
