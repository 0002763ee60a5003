/// One app instance of a replayed design: it makes calls, and can say — without sending anything — whether it
/// refuses an integration or holds a tenant connection back at a moment (for the propagation figures).
protocol ReplayedInstance: AnyObject {
    /// One call of the schedule at `now` (nanoseconds since 1970 on the replay's clock).
    func call(
        _ call: SimulatedCall,
        at now: Int64,
        workload: Workload,
        upstream: @escaping @Sendable (SimulatedCall) -> CallSchedule.Answer
    ) async throws -> SimulatedOutcome

    /// Whether a call to `integration` at `now` would be refused by its breaker.
    func refusesBreaker(of integration: String, at now: Int64) -> Bool

    /// Whether a call to `integration` for `tenant` at `now` would be held back by a provider's back-off.
    func holdsBack(_ integration: String, tenant: String, at now: Int64) -> Bool
}
