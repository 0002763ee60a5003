/// A named variant of the incident workload that exercises what users feel: routing, deploys, long windows,
/// overload, large fleets, partitions. A scenario sets the options it is about; options given explicitly (by flags)
/// are applied after it and win.
public struct Scenario: Sendable {
    public let name: String
    public let summary: String
    private let configure: @Sendable (inout Workload) -> Void
    private let events: @Sendable (inout Workload) -> Void

    /// `configure` sets the scenario's options; `events` places its deploys, crashes and partitions in the run, from
    /// its duration (so they stay inside a run made shorter or longer by `--minutes`).
    init(
        _ name: String,
        _ summary: String,
        _ configure: @escaping @Sendable (inout Workload) -> Void,
        events: @escaping @Sendable (inout Workload) -> Void = { _ in }
    ) {
        self.name = name
        self.summary = summary
        self.configure = configure
        self.events = events
    }

    /// The scenario's workload, from the incident's, with its events placed.
    public func workload(from base: Workload = Workload()) -> Workload {
        var workload = base
        configure(&workload)
        events(&workload)
        return workload
    }

    /// Places the scenario's events again in `workload` (after its duration changed).
    public func placeEvents(in workload: inout Workload) {
        events(&workload)
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
        } events: {
            $0.deployAt = $0.duration / 3
        },
        Scenario("long-window", "the provider profiles scaled to 0.5% (Salesforce: 500 per rolling 24 h); 3 tenants at 2x their Salesforce limit; a rolling restart halfway") {
            $0.minutes = 20
            $0.limits = .profiles
            $0.limitScale = 0.005
            $0.hotIntegration = 2
            $0.hotTenants = 3
            $0.hotFactor = 2
        } events: {
            $0.deployAt = $0.duration / 2
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
        Scenario("partition", "one instance loses Redis for 60 s (at most a sixth of the run) a third into the run; 5 tenants at 2x") {
            $0.minutes = 15
            $0.hotTenants = 5
            $0.hotFactor = 2
            $0.partitioned = 1
        } events: {
            $0.partitionAt = $0.duration / 3
            $0.partitionFor = min(.seconds(60), $0.duration / 6)
        },
    ]

    /// The scenario named `name`, or nil.
    public static func named(_ name: String) -> Scenario? { all.first { $0.name == name } }
}
