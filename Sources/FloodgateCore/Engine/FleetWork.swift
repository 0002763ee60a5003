/// Redis work a decision or an outcome leaves for ``Floodgate``'s background loop, so the caller never waits on it.
package enum FleetWork: Sendable {
    /// Tell the fleet (state hash + channel).
    case publish(FleetEvent)
    /// Give a pool concurrency lease back.
    case releaseConcurrency(PolicyReference, lease: String)
    /// Cede this instance's allowance of a policy another instance found short (or, `shrink`, lease again for
    /// what the demand needs, giving back the rest of a lease taken without contention).
    case cede(PolicyReference, shrink: Bool)
    /// Add this instance's breaker evidence to the fleet's, and open the breaker everywhere if the sums trip it.
    case reportBreaker(integration: String, BreakerEvidence)
    /// Count a successful half-open probe of the open period ending at `epoch`.
    case probeSucceeded(integration: String, epoch: Int64)
}
