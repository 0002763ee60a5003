import FloodgateRESP
import NIOCore
import NIOSSL

/// The protocol logic of one connection, on its event loop: replies are matched to requests in FIFO order, push
/// messages are routed apart, deadlines fail late requests, and a dropped connection fails everything in flight.
///
/// A request that timed out or was cancelled stays in the queue so that its reply, when it comes, is consumed and
/// dropped: the connection stays usable and later replies still reach the right callers.
final class RedisChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Where a reply goes: one caller, one slot of a batch, or nowhere (pub/sub confirmations come as pushes).
    enum ReplySink: Sendable {
        case single(UnsafeContinuation<RESPValue, any Error>)
        case batch(BatchCollector)
        case none
    }

    /// Gathers the replies of commands written back to back and resumes their one caller with all of them.
    /// Made by the sender, then handed to the event loop through the outbox and touched only there.
    final class BatchCollector: @unchecked Sendable {
        private var replies: [RESPValue] = []
        private let expected: Int
        private var continuation: UnsafeContinuation<[RESPValue], any Error>?

        init(expected: Int, continuation: UnsafeContinuation<[RESPValue], any Error>) {
            self.expected = expected
            self.continuation = continuation
            replies.reserveCapacity(expected)
        }

        func receive(_ reply: RESPValue) {
            replies.append(reply)
            if replies.count == expected, let continuation {
                self.continuation = nil
                continuation.resume(returning: replies)
            }
        }

        func fail(_ error: RedisClientError) {
            guard let continuation else { return }
            self.continuation = nil
            continuation.resume(throwing: error)
        }
    }

    private struct PendingReply {
        var sink: ReplySink
        let id: UInt64
        let deadline: NIODeadline
        /// When a request failed by its deadline still has no reply, the connection is given up: its replies may
        /// never come (a half-open path that dropped the request), and every later reply would pair with the wrong
        /// request. A late reply within the grace (a paused or slow server) keeps the connection.
        let abandonAt: NIODeadline

        init(sink: ReplySink, id: UInt64, deadline: NIODeadline, now: NIODeadline) {
            self.sink = sink
            self.id = id
            self.deadline = deadline
            if deadline == .distantFuture {
                abandonAt = .distantFuture
            } else {
                abandonAt = deadline + max(deadline - now, .seconds(1))
            }
        }

        /// Resumes the caller with an error, at most once; the reply, when it comes, will be dropped.
        mutating func fail(_ error: RedisClientError) {
            switch sink {
            case .single(let continuation):
                sink = .none
                continuation.resume(throwing: error)
            case .batch(let collector):
                collector.fail(error)
            case .none:
                break
            }
        }
    }

    private let eventLoop: any EventLoop
    private let accounting: RedisCommandAccounting
    private var pending = CircularBuffer<PendingReply>(initialCapacity: 32)
    private var context: ChannelHandlerContext?
    private var isActive = false
    private var closeReason: RedisClientError?
    private var deadlineTimer: Scheduled<Void>?
    private var deadlineTimerFiresAt: NIODeadline?
    private var drainWaiters: [EventLoopPromise<Void>] = []
    /// Spare storage for the connection's outbox, swapped in and out so draining it does not allocate.
    var spareOutbox: [RedisConnection.OutboxItem] = []

    /// Called with every push message (RESP3 `>`), and in ``subscriberMode`` with RESP2 pub/sub arrays.
    var onPush: ((RESPValue) -> Void)?
    /// Whether RESP2 arrays that look like pub/sub messages are pushes (a RESP2 connection in subscribed mode).
    var subscriberMode = false

    /// Decodes replies in place, without a separate pipeline handler or a type-erased hop per reply.
    private let decoder: NIOSingleStepByteToMessageProcessor<RESPDecoder>

    init(eventLoop: any EventLoop, accounting: RedisCommandAccounting, limits: RESPDecoder.Limits = .init()) {
        self.eventLoop = eventLoop
        self.accounting = accounting
        self.decoder = NIOSingleStepByteToMessageProcessor(RESPDecoder(limits: limits))
    }

    /// The number of requests waiting for a reply.
    var inFlightCount: Int { pending.count }

    // MARK: Writing

    /// Writes one command and queues where its reply goes. Call ``flush()`` after a batch.
    func write(_ item: RedisConnection.OutboxItem) {
        eventLoop.preconditionInEventLoop()
        guard isActive, let context else {
            var pending = PendingReply(sink: item.sink, id: item.id, deadline: item.deadline, now: eventLoop.now)
            pending.fail(closeReason ?? RedisClientError(.connectionClosed, "connection is closed"))
            return
        }
        register(item)
        context.write(wrapOutboundOut(item.command.encoded), promise: nil)
    }

    /// Writes a batch gathered from the outbox as one buffer: one pipeline write instead of one per command.
    func write(_ items: [RedisConnection.OutboxItem]) {
        guard items.count > 1, isActive, let context else {
            for item in items { write(item) }
            return
        }
        var size = 0
        for item in items { size += item.command.encoded.readableBytes }
        var combined = context.channel.allocator.buffer(capacity: size)
        for item in items {
            register(item)
            combined.writeImmutableBuffer(item.command.encoded)
        }
        context.write(wrapOutboundOut(combined), promise: nil)
    }

    /// Counts a command about to be written and queues where its reply goes.
    private func register(_ item: RedisConnection.OutboxItem) {
        accounting.record(command: item.command.accountingName, component: item.component)
        if case .none = item.sink { return }
        pending.append(PendingReply(sink: item.sink, id: item.id, deadline: item.deadline, now: eventLoop.now))
        if item.deadline != .distantFuture { armDeadlineTimer(item.deadline) }
    }

    /// Fails the request(s) with `id` as cancelled; their replies will be dropped when they come.
    func cancel(id: UInt64) {
        var index = pending.startIndex
        while index != pending.endIndex {
            if pending[index].id == id {
                pending[index].fail(RedisClientError(.cancelled, "task cancelled while waiting for the reply"))
            }
            index = pending.index(after: index)
        }
    }

    func flush() {
        context?.flush()
    }

    /// Completes when no reply is outstanding (at once if none is).
    func waitUntilDrained() -> EventLoopFuture<Void> {
        if pending.isEmpty || !isActive { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        drainWaiters.append(promise)
        return promise.futureResult
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.isActive = context.channel.isActive
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        isActive = true
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        failEverything(closeReason ?? RedisClientError(.connectionClosed, "connection to Redis closed"))
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try decoder.process(buffer: unwrapInboundIn(data)) { value in receive(value, context: context) }
        } catch {
            errorCaught(context: context, error: error)
        }
    }

    private func receive(_ value: RESPValue, context: ChannelHandlerContext) {
        guard isActive else { return }
        if isPush(value) {
            onPush?(value.withoutAttributes)
            return
        }
        guard let reply = pending.popFirst() else {
            closeReason = RedisClientError(.protocolError, "reply received with no request outstanding")
            context.close(promise: nil)
            return
        }
        switch reply.sink {
        case .single(let continuation): continuation.resume(returning: value)
        case .batch(let collector): collector.receive(value)
        case .none: break
        }
        if pending.isEmpty && !drainWaiters.isEmpty {
            let waiters = drainWaiters
            drainWaiters = []
            for waiter in waiters { waiter.succeed() }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reason: RedisClientError
        switch error {
        case let decoding as RESPDecodingError:
            reason = RedisClientError(.protocolError, "malformed reply from Redis: \(decoding.message)")
        case let error as RedisClientError:
            reason = error
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            reason = RedisClientError(.tls, "TLS failed: \(error)")
        default:
            reason = RedisClientError(.connectionClosed, String(describing: error))
        }
        closeReason = closeReason ?? reason
        failEverything(reason)
        context.close(promise: nil)
    }

    // MARK: Helpers

    private func isPush(_ value: RESPValue) -> Bool {
        switch value.withoutAttributes {
        case .push:
            return true
        case .array(let items) where subscriberMode:
            guard let kind = items.first?.string else { return false }
            switch kind {
            case "message", "pmessage", "smessage", "subscribe", "psubscribe", "ssubscribe", "unsubscribe",
                "punsubscribe", "sunsubscribe":
                return true
            default:
                return false
            }
        default:
            return false
        }
    }

    private func failEverything(_ error: RedisClientError) {
        isActive = false
        deadlineTimer?.cancel()
        deadlineTimer = nil
        deadlineTimerFiresAt = nil
        while var reply = pending.popFirst() { reply.fail(error) }
        let waiters = drainWaiters
        drainWaiters = []
        for waiter in waiters { waiter.succeed() }
    }

    private func armDeadlineTimer(_ deadline: NIODeadline) {
        if let firesAt = deadlineTimerFiresAt, firesAt <= deadline { return }
        deadlineTimer?.cancel()
        deadlineTimerFiresAt = deadline
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        deadlineTimer = eventLoop.scheduleTask(deadline: deadline) { handler.value.expireLateRequests() }
    }

    /// Fails every request past its deadline; their replies will still be consumed. Re-arms for the next deadline.
    /// When a failed request is still unanswered at its `abandonAt`, closes the connection (the client reconnects).
    private func expireLateRequests() {
        deadlineTimer = nil
        deadlineTimerFiresAt = nil
        let now = eventLoop.now
        var next: NIODeadline?
        var abandon = false
        var index = pending.startIndex
        while index != pending.endIndex {
            let reply = pending[index]
            if reply.abandonAt <= now {
                abandon = true
            } else if reply.deadline <= now {
                pending[index].fail(RedisClientError(.timeout, "no reply from Redis before the command's deadline"))
                next = min(next ?? reply.abandonAt, reply.abandonAt)
            } else if reply.deadline != .distantFuture {
                next = min(next ?? reply.deadline, reply.deadline)
            }
            index = pending.index(after: index)
        }
        if abandon {
            let reason = RedisClientError(.timeout, "no reply from Redis long after a command's deadline: connection abandoned")
            closeReason = closeReason ?? reason
            failEverything(reason)
            context?.close(promise: nil)
            return
        }
        if let next { armDeadlineTimer(next) }
    }
}
