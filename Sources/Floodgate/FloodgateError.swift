/// An error from Floodgate's guards: bad input or configuration, or a refused call.
public struct FloodgateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: Hashable, Sendable { case invalidKey, invalidConfiguration }
        fileprivate let base: Base

        /// An integration, tenant or operation name that Floodgate cannot use safely as part of a key.
        public static let invalidKey = Code(base: .invalidKey)
        /// A configuration value out of range or inconsistent.
        public static let invalidConfiguration = Code(base: .invalidConfiguration)

        public var description: String { String(describing: base) }
    }

    /// What kind of failure this is.
    public let code: Code
    /// What exactly is wrong, naming the offending field.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "FloodgateError.\(code): \(message)" }
}
