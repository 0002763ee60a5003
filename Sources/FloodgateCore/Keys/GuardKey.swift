/// What a guard protects: calls of one integration for one tenant, optionally one operation of it.
///
/// Names are validated so that no input can address another key: each part is 1–128 characters of ASCII letters,
/// digits and `.`, `_`, `-`, `@` (operations may also use `/`), so the separators and hash-tag braces of the Redis key
/// schema (``RedisKeySchema``) never occur inside a part.
public struct GuardKey: Sendable, Hashable, CustomStringConvertible {
    /// The third-party API, e.g. `slack`, `hubspot`, `salesforce`.
    public let integration: String
    /// The tenant's connection to it, e.g. a Slack workspace id.
    public let tenant: String
    /// The method or endpoint, e.g. `chat.postMessage`, when limits differ per operation.
    public let operation: String?

    /// The longest name accepted for any part.
    public static let maximumLength = 128

    /// A hash of the three parts computed once (FNV-1a), so a dictionary lookup hashes one word, not three strings.
    private let digest: UInt64

    /// Validates and makes a key.
    ///
    /// - Throws: ``FloodgateError`` with code `.invalidKey`, naming the part and what is wrong with it.
    public init(integration: String, tenant: String, operation: String? = nil) throws {
        try Self.validate(integration, part: "integration", allowSlash: false)
        try Self.validate(tenant, part: "tenant", allowSlash: false)
        if let operation { try Self.validate(operation, part: "operation", allowSlash: true) }
        self.init(validatedIntegration: integration, tenant: tenant, operation: operation)
    }

    private init(validatedIntegration integration: String, tenant: String, operation: String?) {
        self.integration = integration
        self.tenant = tenant
        self.operation = operation
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325
        Self.mix(integration, into: &digest)
        Self.mix(tenant, into: &digest)
        if let operation { Self.mix(operation, into: &digest) }
        self.digest = operation == nil ? digest : ~digest
    }

    /// FNV-1a over a part's bytes and a separator byte no name contains.
    private static func mix(_ part: String, into digest: inout UInt64) {
        for byte in part.utf8 { digest = (digest ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        digest = (digest ^ 0xFF) &* 0x0000_0100_0000_01B3
    }

    public static func == (lhs: GuardKey, rhs: GuardKey) -> Bool {
        lhs.digest == rhs.digest && lhs.integration == rhs.integration && lhs.tenant == rhs.tenant
            && lhs.operation == rhs.operation
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(digest) }

    /// The same integration and tenant without the operation: the scope shared by all of the tenant's operations.
    public var connection: GuardKey {
        guard operation != nil else { return self }
        return GuardKey(validatedIntegration: integration, tenant: tenant, operation: nil)
    }

    public var description: String {
        operation.map { "\(integration)/\(tenant)/\($0)" } ?? "\(integration)/\(tenant)"
    }

    private static func validate(_ name: String, part: String, allowSlash: Bool) throws {
        guard !name.isEmpty else { throw FloodgateError(.invalidKey, "\(part) name is empty") }
        guard name.utf8.count <= maximumLength else {
            throw FloodgateError(.invalidKey, "\(part) name is longer than \(maximumLength) bytes")
        }
        for byte in name.utf8 where !isAllowed(byte, allowSlash: allowSlash) {
            let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : String(format: byte)
            throw FloodgateError(
                .invalidKey,
                "\(part) name contains \(shown): allowed are ASCII letters, digits and . _ - @\(allowSlash ? " /" : "")"
            )
        }
    }

    private static func isAllowed(_ byte: UInt8, allowSlash: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"),
            UInt8(ascii: "@"):
            return true
        case UInt8(ascii: "/"):
            return allowSlash
        default:
            return false
        }
    }

    private static func String(format byte: UInt8) -> Swift.String {
        let hex = Swift.String(byte, radix: 16, uppercase: true)
        return "byte 0x" + (hex.count == 1 ? "0" + hex : hex)
    }
}
