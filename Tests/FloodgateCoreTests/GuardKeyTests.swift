import FloodgateCore
import Testing

@Suite("Guard keys and the Redis key schema", .timeLimit(.minutes(3)))
struct GuardKeyTests {
    @Test func acceptsRealisticNames() throws {
        let key = try GuardKey(integration: "slack", tenant: "T024BE7LD", operation: "chat.postMessage")
        #expect(key.description == "slack/T024BE7LD/chat.postMessage")
        #expect(key.connection == (try GuardKey(integration: "slack", tenant: "T024BE7LD")))
        _ = try GuardKey(integration: "salesforce", tenant: "00D5e000000abcd@eu-1", operation: "services/data/v60.0/query")
    }

    @Test(
        "refuses names that could address another key",
        arguments: [
            ("", "empty"), ("a:b", "':'"), ("{slack}", "'{'"), ("a}b", "'}'"), ("line\nbreak", "byte 0x0A"),
            ("tab\there", "byte 0x09"), ("sp ace", "' '"), ("slash/t", "'/'"), ("naïve", "byte 0xC3"),
            ("\u{FFFD}", "byte 0xEF"), (String(repeating: "x", count: 10_000), "longer than 128"),
        ]
    )
    func refusesHostileTenants(tenant: String, reason: String) {
        let error = #expect(throws: FloodgateError.self) { try GuardKey(integration: "slack", tenant: tenant) }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.contains("tenant") == true)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
    }

    @Test func operationsMayContainSlashesButNotSeparators() {
        #expect(throws: Never.self) { try GuardKey(integration: "hubspot", tenant: "42", operation: "crm/v3/objects") }
        #expect(throws: FloodgateError.self) { try GuardKey(integration: "hubspot", tenant: "42", operation: "a:b") }
        #expect(throws: FloodgateError.self) { try GuardKey(integration: "hub spot", tenant: "42") }
    }

    @Test func schemaUsesOneHashTagPerTenantConnection() throws {
        let schema = try RedisKeySchema(prefix: "app:fg")
        let key = try GuardKey(integration: "slack", tenant: "T1", operation: "chat.postMessage")
        #expect(schema.key(.rateLimit, for: key) == "app:fg:{slack:T1}:rl:chat.postMessage")
        #expect(schema.key(.backoff, for: key.connection) == "app:fg:{slack:T1}:bo")
        #expect(schema.integrationKey(.breaker, for: key) == "app:fg:{slack}:cb")
    }

    @Test func distinctKeysNeverShareARedisKey() throws {
        let schema = try RedisKeySchema()
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab.-_@1")
        func name() -> String { String((0..<Int.random(in: 1...4, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }) }
        var seen: [String: GuardKey] = [:]
        for _ in 0..<5_000 {
            let key = try GuardKey(integration: name(), tenant: name(), operation: Bool.random(using: &generator) ? name() : nil)
            for kind in RedisKeySchema.Kind.allCases {
                let redisKey = schema.key(kind, for: key)
                if let earlier = seen[redisKey] { #expect(earlier == key, "\(earlier) and \(key) share \(redisKey)") }
                seen[redisKey] = key
            }
        }
    }

    @Test(arguments: ["", "has space", "{tag}", String(repeating: "p", count: 65)])
    func refusesBadPrefixes(prefix: String) {
        let error = #expect(throws: FloodgateError.self) { try RedisKeySchema(prefix: prefix) }
        #expect(error?.code == .invalidConfiguration)
    }
}
