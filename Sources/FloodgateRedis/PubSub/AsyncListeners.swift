/// The listeners of a fan-out: one `AsyncStream` continuation per listener, each with a tag saying what it listens
/// to. A value type kept inside its owner's lock, so registering, choosing targets and removing stay atomic with the
/// owner's other state; the owner yields to the targets outside the lock.
///
/// The pub/sub hub (tagged with channels and patterns), the tracking hub and Floodgate's breaker events use it.
public struct AsyncListeners<Element: Sendable, Tag: Sendable>: Sendable {
    private var listeners: [Int: (tag: Tag, continuation: AsyncStream<Element>.Continuation)] = [:]
    private var nextID = 0

    public init() {}

    /// Registers a listener and returns its id (for ``remove(_:)``, typically from the stream's `onTermination`).
    public mutating func add(_ continuation: AsyncStream<Element>.Continuation, tag: Tag) -> Int {
        let id = nextID
        nextID += 1
        listeners[id] = (tag, continuation)
        return id
    }

    /// Removes a listener; its tag, or nil when it was gone already.
    @discardableResult
    public mutating func remove(_ id: Int) -> Tag? { listeners.removeValue(forKey: id)?.tag }

    /// The continuations of the listeners whose tag matches.
    public func targets(where matches: (Tag) -> Bool = { _ in true }) -> [AsyncStream<Element>.Continuation] {
        listeners.values.filter { matches($0.tag) }.map(\.continuation)
    }

    /// Every listener's tag.
    public var tags: [Tag] { listeners.values.map(\.tag) }

    public var count: Int { listeners.count }
    public var isEmpty: Bool { listeners.isEmpty }

    /// Removes every listener and returns their continuations (to finish them outside the lock).
    public mutating func removeAll() -> [AsyncStream<Element>.Continuation] {
        defer { listeners = [:] }
        return listeners.values.map(\.continuation)
    }
}

extension AsyncListeners where Tag == Void {
    public mutating func add(_ continuation: AsyncStream<Element>.Continuation) -> Int { add(continuation, tag: ()) }
}
