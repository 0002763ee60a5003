/// A change every instance must apply at once, published on the fleet's channel and kept in the fleet's state hash
/// (for instances that start or reconnect later).
package enum FleetEvent: Sendable, Hashable {
    /// An integration's breaker opened until a time (nanoseconds since 1970).
    case breakerOpened(integration: String, until: Int64)
    /// An integration's breaker closed after its fleet-wide probes succeeded.
    case breakerClosed(integration: String)
    /// An operator forced a breaker open or closed, or released it (`nil`).
    case breakerForced(integration: String, open: Bool?)
    /// A provider throttled a tenant connection until a time.
    case backoff(integration: String, tenant: String, until: Int64)
    /// An instance found a policy's ledger short by `needed` calls while allowances of up to `candidates` members may
    /// lie unused: enough of those that do not need theirs should cede them (published by the lease script, which
    /// adds the two counts; never kept in the state hash).
    case cedeWanted(scope: GuardKey, index: Int, needed: Int, candidates: Int)

    /// The message text: space-separated words, the sender's instance id last.
    package func message(from origin: String) -> String {
        switch self {
        case .breakerOpened(let integration, let until): return "open \(integration) \(until) \(origin)"
        case .breakerClosed(let integration): return "close \(integration) \(origin)"
        case .breakerForced(let integration, let open):
            return "force \(integration) \(open.map { $0 ? "open" : "closed" } ?? "release") \(origin)"
        case .backoff(let integration, let tenant, let until): return "backoff \(integration) \(tenant) \(until) \(origin)"
        case .cedeWanted(let scope, let index, let needed, let candidates):
            return "\(Self.cedeAsk(scope: scope, index: index)) \(needed) \(candidates) \(origin)"
        }
    }

    /// The words of a cede ask before the counts the lease script adds (then the asker's id).
    package static func cedeAsk(scope: GuardKey, index: Int) -> String {
        "cede \(scope.integration) \(scope.tenant) \(scope.operation ?? "-") \(index)"
    }

    /// Parses a message; nil for anything malformed (names are validated, so they contain no spaces).
    package static func parse(_ text: String) -> (event: FleetEvent, origin: String)? {
        let words = text.split(separator: " ").map(String.init)
        switch (words.first, words.count) {
        case ("open", 4):
            guard let until = Int64(words[2]) else { return nil }
            return (.breakerOpened(integration: words[1], until: until), words[3])
        case ("close", 3):
            return (.breakerClosed(integration: words[1]), words[2])
        case ("force", 4):
            let open: Bool?
            switch words[2] {
            case "open": open = true
            case "closed": open = false
            case "release": open = nil
            default: return nil
            }
            return (.breakerForced(integration: words[1], open: open), words[3])
        case ("backoff", 5):
            guard let until = Int64(words[3]) else { return nil }
            return (.backoff(integration: words[1], tenant: words[2], until: until), words[4])
        case ("cede", 8), ("cede", 6):
            // Six words: from an instance of the previous version, without counts; every instance that can cede answers.
            let counted = words.count == 8
            guard let index = Int(words[4]), index >= 0,
                let needed = counted ? Int(words[5]) : .max, let candidates = counted ? Int(words[6]) : 1,
                let scope = try? GuardKey(integration: words[1], tenant: words[2], operation: words[3] == "-" ? nil : words[3])
            else { return nil }
            return (.cedeWanted(scope: scope, index: index, needed: needed, candidates: candidates), words[words.count - 1])
        default:
            return nil
        }
    }

    /// The field of the fleet's state hash that records this event, and its value ("" deletes the field).
    package var stateField: (field: String, value: String) {
        switch self {
        case .breakerOpened(let integration, let until): return ("cb:\(integration)", "open:\(until)")
        case .breakerClosed(let integration): return ("cb:\(integration)", "")
        case .breakerForced(let integration, let open):
            return ("cb:\(integration)", open.map { $0 ? "forced-open" : "forced-closed" } ?? "")
        case .backoff(let integration, let tenant, let until): return ("bo:\(integration):\(tenant)", String(until))
        case .cedeWanted: return ("", "")
        }
    }

    /// Reads a state-hash field back as the event that wrote it.
    package static func fromState(field: String, value: String) -> FleetEvent? {
        let parts = field.split(separator: ":", maxSplits: 2).map(String.init)
        switch (parts.first, parts.count) {
        case ("cb", 2):
            if value == "forced-open" { return .breakerForced(integration: parts[1], open: true) }
            if value == "forced-closed" { return .breakerForced(integration: parts[1], open: false) }
            guard value.hasPrefix("open:"), let until = Int64(value.dropFirst(5)) else { return nil }
            return .breakerOpened(integration: parts[1], until: until)
        case ("bo", 3):
            guard let until = Int64(value) else { return nil }
            return .backoff(integration: parts[1], tenant: parts[2], until: until)
        default:
            return nil
        }
    }
}
