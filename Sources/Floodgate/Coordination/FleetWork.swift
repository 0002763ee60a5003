/// Redis work a decision or an outcome leaves for ``Floodgate``'s background loop, so the caller never waits on it.
enum FleetWork: Sendable {
    /// Tell the fleet (state hash + channel).
    case publish(FleetEvent)
    /// Give a pool concurrency lease back.
    case releaseConcurrency(scope: GuardKey, position: Int, lease: String)
    /// Cede this instance's allowance of a policy another instance found short.
    case cede(scope: GuardKey, position: Int)
    /// Count a successful half-open probe of the open period ending at `epoch`.
    case probeSucceeded(integration: String, epoch: Int64)
}
