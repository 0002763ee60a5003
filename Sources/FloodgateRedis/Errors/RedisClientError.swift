/// An error from the Redis client: a connection problem, a timeout, or an error reply from the server.
///
/// Server error replies keep their message; ``serverErrorPrefix`` gives the leading code (`WRONGTYPE`, `NOSCRIPT`,
/// `READONLY`, `OOM`, `LOADING`, ...) so callers can tell them apart. Messages never contain passwords.
public struct RedisClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: Hashable, Sendable {
            case connectionClosed, connectionUnavailable, connectFailed, timeout, cancelled, server, protocolError,
                tls, authentication, unexpectedReply, clientShutdown, invalidConfiguration, unsupported, crossSlot,
                clusterRedirects
        }
        fileprivate let base: Base

        /// The connection closed while the command was in flight or queued.
        public static let connectionClosed = Code(base: .connectionClosed)
        /// No connection is up (the client is reconnecting after a failure); the command was not sent.
        public static let connectionUnavailable = Code(base: .connectionUnavailable)
        /// A connection could not be established.
        public static let connectFailed = Code(base: .connectFailed)
        /// No reply came within the command's timeout. The connection stays usable.
        public static let timeout = Code(base: .timeout)
        /// The caller's task was cancelled. The connection stays usable.
        public static let cancelled = Code(base: .cancelled)
        /// The server answered with an error reply.
        public static let server = Code(base: .server)
        /// The server sent bytes that are not valid RESP, or more than the decoder's limits allow.
        public static let protocolError = Code(base: .protocolError)
        /// TLS failed: handshake, certificate verification, or configuration.
        public static let tls = Code(base: .tls)
        /// The server refused the credentials.
        public static let authentication = Code(base: .authentication)
        /// The reply had a shape the typed command did not expect.
        public static let unexpectedReply = Code(base: .unexpectedReply)
        /// The client has shut down.
        public static let clientShutdown = Code(base: .clientShutdown)
        /// The configuration or URL is invalid.
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
        /// The server does not support what was asked (for example `CLIENT TRACKING`).
        public static let unsupported = Code(base: .unsupported)
        /// A multi-key command, pipeline transaction or script names keys in more than one cluster slot; nothing
        /// was sent. Keep such keys in one slot with a hash tag (`{tenant}`).
        public static let crossSlot = Code(base: .crossSlot)
        /// A cluster kept redirecting the command (`MOVED`/`ASK`) past the client's bound.
        public static let clusterRedirects = Code(base: .clusterRedirects)

        public var description: String { String(describing: base) }
    }

    /// What kind of failure this is.
    public let code: Code
    /// A human-readable explanation; for ``Code/server`` the server's own error message.
    public let message: String
    /// Where the error was raised.
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// The leading word of a server error (`ERR`, `WRONGTYPE`, `NOSCRIPT`, `READONLY`, `OOM`, `LOADING`, ...).
    public var serverErrorPrefix: Substring? {
        guard code == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first
    }

    /// Whether this is a server error reply starting with `prefix`.
    public func isServerError(_ prefix: String) -> Bool { serverErrorPrefix == Substring(prefix) }

    public var description: String { "RedisClientError.\(code): \(message)" }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code && lhs.message == rhs.message }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}
