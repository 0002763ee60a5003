import NIOCore

/// A message received on a subscribed channel.
public struct RedisPubSubMessage: Sendable, Hashable {
    /// The channel the message was published to.
    public var channel: String
    /// The pattern that matched, for pattern subscriptions.
    public var pattern: String?
    /// The message as published.
    public var payload: ByteBuffer

    public init(channel: String, pattern: String? = nil, payload: ByteBuffer) {
        self.channel = channel
        self.pattern = pattern
        self.payload = payload
    }

    /// The payload as text.
    public var text: String { String(buffer: payload) }
}

/// The messages of one subscription, in the order they arrived. The subscription ends when the sequence is
/// released or its task cancelled (then the client unsubscribes), or when the client shuts down.
///
/// Across a reconnect the client subscribes again by itself; messages published while no connection was up are lost
/// (Redis pub/sub keeps no history), and ``RedisSubscription/Event/reconnected`` says when that may have happened.
public struct RedisSubscription: AsyncSequence, Sendable {
    /// One event on a subscription.
    public enum Event: Sendable, Hashable {
        /// A message.
        case message(RedisPubSubMessage)
        /// The subscription was re-established after the connection dropped: messages may have been missed.
        case reconnected
    }

    public typealias Element = Event
    let stream: AsyncStream<Event>

    public func makeAsyncIterator() -> AsyncStream<Event>.Iterator { stream.makeAsyncIterator() }

    /// Only the messages, skipping reconnection events.
    public var messages: AsyncCompactMapSequence<AsyncStream<Event>, RedisPubSubMessage> {
        stream.compactMap { event in
            if case .message(let message) = event { return message }
            return nil
        }
    }
}
