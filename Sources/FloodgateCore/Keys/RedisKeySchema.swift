/// Where a guarded key's state lives in Redis.
///
/// Every key of one integration and tenant shares the hash tag `{integration:tenant}`, so all of a tenant
/// connection's state (limits of each operation, breaker, back-off) sits in one cluster slot and one script can touch
/// it atomically:
///
/// ```
/// <prefix>:{<integration>:<tenant>}:<kind>[:<operation>]
/// fg:{slack:T024BE7LD}:rl:chat.postMessage      rate-limit state of one operation
/// fg:{slack:T024BE7LD}:bo                       provider back-off of the tenant connection
/// ```
/// State that belongs to a whole integration (its breaker) uses `{<integration>}` as its tag.
public struct RedisKeySchema: Sendable, Hashable {
    /// The prefix of every key, e.g. `fg` or `myapp:fg`.
    public let prefix: String

    /// - Throws: ``FloodgateError`` `.invalidConfiguration` when the prefix is empty, too long, or contains braces,
    ///   spaces or control characters.
    public init(prefix: String = "fg") throws {
        guard !prefix.isEmpty, prefix.utf8.count <= 64,
            prefix.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "{") && $0 != UInt8(ascii: "}") })
        else {
            throw FloodgateError(
                .invalidConfiguration,
                "key prefix must be 1–64 printable ASCII characters without spaces or braces"
            )
        }
        self.prefix = prefix
    }

    /// The kinds of state kept per key.
    public enum Kind: String, Sendable, CaseIterable {
        /// Rate-limit grants.
        case rateLimit = "rl"
        /// Concurrency leases.
        case concurrency = "cc"
        /// Provider back-off (retry-after).
        case backoff = "bo"
        /// Circuit-breaker state.
        case breaker = "cb"
    }

    /// The Redis key holding `kind` state for `key`.
    public func key(_ kind: Kind, for key: GuardKey) -> String {
        let base = "\(prefix):{\(key.integration):\(key.tenant)}:\(kind.rawValue)"
        return key.operation.map { "\(base):\($0)" } ?? base
    }

    /// The Redis key holding one policy's `kind` state (its ledger, or its concurrency pool):
    /// `<prefix>:{<integration>:<tenant>}:<kind>[:<operation>]:<policy index>`.
    package func key(_ kind: Kind, for policy: PolicyReference) -> String {
        "\(key(kind, for: policy.scope)):\(policy.index)"
    }

    /// A key of state that belongs to the whole fleet (membership, open breakers and back-offs, the events channel),
    /// all under the hash tag `{fleet}`: `<prefix>:{fleet}:<name>`.
    public func fleetKey(_ name: String) -> String { "\(prefix):{fleet}:\(name)" }

    /// The Redis key holding `kind` state shared by the whole integration of `key` (its breaker).
    public func integrationKey(_ kind: Kind, for key: GuardKey) -> String {
        integrationKey(kind, integration: key.integration)
    }

    /// The Redis key holding `kind` state shared by a whole integration (its breaker): `<prefix>:{<integration>}:<kind>`.
    public func integrationKey(_ kind: Kind, integration: String) -> String {
        "\(prefix):{\(integration)}:\(kind.rawValue)"
    }
}
