@testable import FloodgateCore
import Testing

/// The fleet channel's messages: what one instance publishes, every other reads back.
struct FleetEventTests {
    @Test func everyEventReadsBackAsItWasSent() throws {
        let scope = try GuardKey(integration: "slack", tenant: "t1", operation: "chat.postMessage")
        let events: [FleetEvent] = [
            .breakerOpened(integration: "hubspot", until: 1_700_000_000_000_000_000),
            .breakerClosed(integration: "hubspot"),
            .breakerForced(integration: "hubspot", open: true),
            .breakerForced(integration: "hubspot", open: nil),
            .backoff(integration: "slack", tenant: "t1", until: 42),
            .cedeWanted(scope: scope, index: 1, needed: 3, candidates: 39),
        ]
        for event in events {
            let parsed = try #require(FleetEvent.parse(event.message(from: "i-7")))
            #expect(parsed.event == event)
            #expect(parsed.origin == "i-7")
        }
    }

    /// The lease script writes the ask's counts and the asker after the words the instance gives it.
    @Test func aCedeAskIsTheInstancesWordsThenTheScriptsCounts() throws {
        let scope = try GuardKey(integration: "api", tenant: "t")
        let published = FleetEvent.cedeAsk(scope: scope, index: 0) + " 2 5 i-1"
        let parsed = try #require(FleetEvent.parse(published))
        #expect(parsed.event == .cedeWanted(scope: scope, index: 0, needed: 2, candidates: 5))
        #expect(parsed.origin == "i-1")
    }

    /// An ask from the previous version has no counts: every instance that can cede answers it.
    @Test func anAskWithoutCountsAsksEveryone() throws {
        let parsed = try #require(FleetEvent.parse("cede api t - 0 i-1"))
        guard case .cedeWanted(_, 0, let needed, let candidates) = parsed.event else {
            Issue.record("not a cede ask: \(parsed.event)")
            return
        }
        #expect(needed == .max && candidates == 1)
        #expect(FleetEvent.parse("cede api t - 0 x 1 i-1") == nil, "a malformed count")
    }
}
