import FloodgateCore
import Testing

@Suite("Policies and provider profiles", .timeLimit(.minutes(3)))
struct PolicyTests {
    @Test(arguments: [
        RateLimitPolicy.fixedWindow(limit: 0, window: .seconds(60)),
        .rollingWindow(limit: 10, window: .zero),
        .tokenBucket(rate: 1, period: .seconds(1), burst: 0),
        .tokenBucket(rate: -1, period: .seconds(1), burst: 5),
        .concurrency(limit: 25, leaseTimeout: .seconds(-1)),
    ])
    func invalidPoliciesAreRefusedWithTheirName(policy: RateLimitPolicy) {
        let error = #expect(throws: FloodgateError.self) { try policy.validate() }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("\(policy)") == true)
    }

    @Test func slackLimitsPerMethodWithSpecialPostMessage() throws {
        let slack = ProviderProfile.slack()
        try slack.validate()
        let history = try GuardKey(integration: "slack", tenant: "T1", operation: "conversations.history")
        #expect(slack.policies(for: history) == [.fixedWindow(limit: 50, window: .seconds(60))])
        let post = try GuardKey(integration: "slack", tenant: "T1", operation: "chat.postMessage")
        #expect(slack.policies(for: post) == [.tokenBucket(rate: 1, period: .seconds(1), burst: 5)])
        let unknown = try GuardKey(integration: "slack", tenant: "T1", operation: "files.upload")
        #expect(slack.policies(for: unknown) == [.fixedWindow(limit: 50, window: .seconds(60))])
        let overridden = ProviderProfile.slack(tiers: ["files.upload": .tier2], defaultTier: .tier4)
        #expect(overridden.policies(for: unknown) == [.fixedWindow(limit: 20, window: .seconds(60))])
        #expect(overridden.policies(for: history) == [.fixedWindow(limit: 100, window: .seconds(60))])
    }

    @Test func hubSpotAndSalesforceApplyToEveryOperation() throws {
        let hubSpot = ProviderProfile.hubSpot()
        try hubSpot.validate()
        let contacts = try GuardKey(integration: "hubspot", tenant: "42", operation: "crm/v3/objects/contacts")
        #expect(hubSpot.policies(for: contacts).contains(.rollingWindow(limit: 100, window: .seconds(10))))
        #expect(hubSpot.policies(for: contacts.connection) == hubSpot.policies(for: contacts))
        let salesforce = ProviderProfile.salesforce(perDay: 15_000)
        try salesforce.validate()
        #expect(salesforce.policies(for: contacts.connection) == [
            .rollingWindow(limit: 15_000, window: .seconds(86_400)),
            .concurrency(limit: 25, leaseTimeout: .seconds(120)),
        ])
    }

    @Test func aProfileWithABadOverrideFailsValidation() {
        var profile = ProviderProfile.hubSpot()
        profile.operationLimits["bulk"] = [.rollingWindow(limit: -5, window: .seconds(10))]
        #expect(throws: FloodgateError.self) { try profile.validate() }
    }
}
