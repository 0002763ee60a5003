import Floodgate
import Synchronization

/// Permits handed to HTTP clients, by id, until their outcome is recorded. A permit never recorded (the client
/// crashed, or forgot) is given back after the timeout as `.cancelled`, so it cannot hold a concurrency slot forever.
final class PermitTable: Sendable {
    struct Entry: Sendable {
        let permit: FloodgatePermit
        let expiresAt: Int64
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let counter = Atomic<UInt64>(0)
    private let instanceTag: String

    init(instanceTag: String) {
        self.instanceTag = instanceTag
    }

    /// Stores `permit` and returns its id: unguessable enough that one client cannot record another's permit by
    /// accident (random bits plus a counter).
    func insert(_ permit: FloodgatePermit, expiresAt: Int64) -> String {
        let serial = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let id = "\(instanceTag)-\(serial)-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        entries.withLock { $0[id] = Entry(permit: permit, expiresAt: expiresAt) }
        return id
    }

    /// Takes the permit out (it can be recorded once).
    func remove(_ id: String) -> FloodgatePermit? {
        entries.withLock { $0.removeValue(forKey: id)?.permit }
    }

    /// Removes and returns every permit expired at `now`.
    func expire(at now: Int64) -> [FloodgatePermit] {
        entries.withLock { entries in
            let expired = entries.filter { $0.value.expiresAt <= now }
            for id in expired.keys { entries[id] = nil }
            return expired.values.map(\.permit)
        }
    }

    /// Removes and returns every permit (shutdown).
    func drain() -> [FloodgatePermit] {
        entries.withLock { entries in
            defer { entries.removeAll() }
            return entries.values.map(\.permit)
        }
    }

    var count: Int { entries.withLock { $0.count } }
}
