import FloodgateRESP
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// One connection to Redis, on which many tasks can have commands in flight at once (pipelining).
///
/// Commands from any thread are gathered in an outbox and written by the event loop in batches with one flush, so
/// concurrent callers share syscalls. Replies are matched in order. Cancelling a caller's task fails that command
/// only; the connection stays usable.
public final class RedisConnection: Sendable {
    struct OutboxItem {
        let command: RedisCommand
        let component: RedisComponent
        let sink: RedisChannelHandler.ReplySink
        let id: UInt64
        let deadline: NIODeadline
    }

    private struct Outbox {
        var items: [OutboxItem] = []
        var drainScheduled = false
    }

    /// The underlying channel.
    public let channel: any Channel
    private let handler: NIOLoopBound<RedisChannelHandler>
    private let outbox = Mutex(Outbox())
    private let negotiatedProtocol = Atomic<Int>(2)
    private let clusterNode = Atomic<Bool>(false)
    private let nextRequestID = Atomic<UInt64>(0)
    let commandTimeout: Duration?
    let logger: Logger

    init(channel: any Channel, handler: RedisChannelHandler, commandTimeout: Duration?, logger: Logger) {
        self.channel = channel
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        self.commandTimeout = commandTimeout
        self.logger = logger
    }

    /// The RESP version agreed with the server: 3 after a successful `HELLO 3`, otherwise 2.
    public var protocolVersion: Int { negotiatedProtocol.load(ordering: .relaxed) }

    func setProtocolVersion(_ version: Int) { negotiatedProtocol.store(version, ordering: .relaxed) }

    /// Whether the server said in its `HELLO` reply that it runs in cluster mode (false after a RESP2 handshake).
    public var isClusterNode: Bool { clusterNode.load(ordering: .relaxed) }

    func setClusterNode(_ value: Bool) { clusterNode.store(value, ordering: .relaxed) }

    /// The IP address of the server's end, when known.
    public var remoteHost: String? { channel.remoteAddress?.ipAddress }

    /// Whether the connection is open.
    public var isActive: Bool { channel.isActive }

    /// Completes when the connection has closed.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// Sends a command and returns its reply; an error reply throws ``RedisClientError`` with code `.server`.
    public func send(
        _ command: RedisCommand,
        component: RedisComponent = .unlabelled,
        timeout: Duration? = nil
    ) async throws -> RESPValue {
        try await sendRaw(command, component: component, timeout: timeout).throwingServerError()
    }

    /// Sends a command and returns its reply as the server sent it, error replies included.
    public func sendRaw(
        _ command: RedisCommand,
        component: RedisComponent = .unlabelled,
        timeout: Duration? = nil
    ) async throws -> RESPValue {
        if Task.isCancelled { throw RedisClientError(.cancelled, "task cancelled before the command was sent") }
        let id = nextRequestID.wrappingAdd(1, ordering: .relaxed).newValue
        let deadline = deadline(timeout)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                enqueue(OutboxItem(command: command, component: component, sink: .single(continuation), id: id, deadline: deadline))
            }
        } onCancel: {
            cancel(id: id)
        }
    }

    /// Sends commands back to back, with nothing from other callers in between, and returns every reply in order
    /// (error replies included, as values).
    public func sendBatch(
        _ commands: [RedisCommand],
        component: RedisComponent = .unlabelled,
        timeout: Duration? = nil
    ) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        if Task.isCancelled { throw RedisClientError(.cancelled, "task cancelled before the commands were sent") }
        let id = nextRequestID.wrappingAdd(1, ordering: .relaxed).newValue
        let deadline = deadline(timeout)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                // Created here, used only on the event loop from now on.
                let collector = RedisChannelHandler.BatchCollector(expected: commands.count, continuation: continuation)
                enqueue(commands.map {
                    OutboxItem(command: $0, component: component, sink: .batch(collector), id: id, deadline: deadline)
                })
            }
        } onCancel: {
            cancel(id: id)
        }
    }

    /// Writes a command whose confirmation arrives as a push message (`SUBSCRIBE` and friends): no reply is queued.
    func sendWithoutReply(_ command: RedisCommand, component: RedisComponent) {
        enqueue(OutboxItem(command: command, component: component, sink: .none, id: 0, deadline: .distantFuture))
    }

    private func cancel(id: UInt64) {
        let handler = self.handler
        if channel.eventLoop.inEventLoop {
            handler.value.cancel(id: id)
        } else {
            channel.eventLoop.execute { handler.value.cancel(id: id) }
        }
    }

    /// Waits until no reply is outstanding, then closes the connection; closes anyway at `deadline`.
    public func close(drainingUntil deadline: NIODeadline = .now()) async {
        let eventLoop = channel.eventLoop
        let channel = self.channel
        let handler = self.handler
        let drained = eventLoop.flatSubmit {
            handler.value.waitUntilDrained()
        }
        let timer = eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
        _ = try? await drained.get()
        timer.cancel()
        try? await channel.close()
    }

    /// Sets the push handler, on the event loop.
    func setPushHandler(subscriberMode: Bool, _ body: @escaping @Sendable (RESPValue) -> Void) async throws {
        let handler = self.handler
        try await channel.eventLoop.submit {
            handler.value.subscriberMode = subscriberMode
            handler.value.onPush = body
        }.get()
    }

    // MARK: Outbox

    private func deadline(_ timeout: Duration?) -> NIODeadline {
        guard let timeout = timeout ?? commandTimeout else { return .distantFuture }
        return channel.eventLoop.now + TimeAmount(timeout)
    }

    private func enqueue(_ item: OutboxItem) {
        if channel.eventLoop.inEventLoop {
            handler.value.write(item)
            handler.value.flush()
            return
        }
        let mustSchedule = outbox.withLock { outbox in
            outbox.items.append(item)
            defer { outbox.drainScheduled = true }
            return !outbox.drainScheduled
        }
        if mustSchedule { channel.eventLoop.execute { self.drainOutbox() } }
    }

    private func enqueue(_ items: [OutboxItem]) {
        let mustSchedule = outbox.withLock { outbox in
            outbox.items.append(contentsOf: items)
            defer { outbox.drainScheduled = true }
            return !outbox.drainScheduled
        }
        if mustSchedule {
            if channel.eventLoop.inEventLoop {
                drainOutbox()
            } else {
                channel.eventLoop.execute { self.drainOutbox() }
            }
        }
    }

    /// Writes everything gathered in the outbox, then flushes once. Runs on the event loop.
    private func drainOutbox() {
        let handler = self.handler.value
        // Take the spare storage uniquely, so that appending to it later does not copy it.
        var batch: [OutboxItem] = []
        swap(&batch, &handler.spareOutbox)
        outbox.withLock { outbox in
            swap(&batch, &outbox.items)
            outbox.drainScheduled = false
        }
        handler.write(batch)
        handler.flush()
        batch.removeAll(keepingCapacity: true)
        handler.spareOutbox = batch
    }
}

extension RedisConnection {
    /// Closes once no reply is outstanding, or at `deadline` at the latest, without waiting for it.
    func closeWhenDrained(deadline: NIODeadline) {
        let channel = self.channel
        let handler = self.handler
        channel.eventLoop.execute {
            let timer = channel.eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
            handler.value.waitUntilDrained().whenComplete { _ in
                timer.cancel()
                channel.close(promise: nil)
            }
        }
    }
}

extension RedisConnection {
    /// How many replies this connection is waiting for (queried on its event loop).
    public func inFlightCount() async -> Int {
        let handler = self.handler
        return (try? await channel.eventLoop.submit { handler.value.inFlightCount }.get()) ?? 0
    }
}
