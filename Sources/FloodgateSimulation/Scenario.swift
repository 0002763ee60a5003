/// A named variant of the incident workload that exercises what users feel: routing, deploys, long windows,
/// overload, large fleets, partitions. A scenario sets the options it is about; options given explicitly (by flags)
/// are applied after it and win.
public struct Scenario: Sendable {
    public let name: String
    public let summary: String
    private let configure: @Sendable (inout Workload) -> Void

    init(_ name: String, _ summary: String, _ configure: @escaping @Sendable (inout Workload) -> Void) {
        self.name = name
        self.summary = summary
        self.configure = configure
    }

    /// The scenario's workload, from the incident's.
    public func workload(from base: Workload = Workload()) -> Workload {
        var workload = base
        configure(&workload)
        return workload
    }

    /// Every scenario, in the order of the matrix.
    public static let all: [Scenario] = [
        Scenario("incident", "the incident's hour as WORKLOAD.md describes it") { _ in },
        Scenario("sticky", "each tenant's calls always reach the same instance; 5 tenants offered 2x their slack limit") {
            $0.minutes = 20
            $0.routing = .sticky
            $0.hotTenants = 5
            $0.hotFactor = 2
        },
        Scenario("deploy", "a rolling restart of every instance (10 s apart) a third into the run; 5 tenants at 2x") {
            $0.minutes = 20
            $0.hotTenants = 5
            $0.hotFactor = 2
            $0.deployAt = .seconds(400)
        },
        Scenario("long-window", "the provider profiles scaled to 0.5% (Salesforce: 500 per rolling 24 h); 3 tenants at 2x their Salesforce limit; a rolling restart halfway") {
            $0.minutes = 20
            $0.limits = .profiles
            $0.limitScale = 0.005
            $0.hotIntegration = 2
            $0.hotTenants = 3
            $0.hotFactor = 2
            $0.deployAt = .seconds(600)
        },
        Scenario("overload", "10 tenants offered 4x their slack limit") {
            $0.minutes = 20
            $0.hotTenants = 10
            $0.hotFactor = 4
        },
        Scenario("large-fleet", "40 instances, 40 calls per second; 5 tenants at 2x") {
            $0.minutes = 10
            $0.instances = 40
            $0.rate = 40
            $0.hotTenants = 5
            $0.hotFactor = 2
        },
        Scenario("partition", "one of the four instances loses Redis for 60 s a third into the run; 5 tenants at 2x") {
            $0.minutes = 15
            $0.hotTenants = 5
            $0.hotFactor = 2
            $0.partitionAt = .seconds(300)
            $0.partitionFor = .seconds(60)
            $0.partitioned = 1
        },
    ]

    /// The scenario named `name`, or nil.
    public static func named(_ name: String) -> Scenario? { all.first { $0.name == name } }
}
