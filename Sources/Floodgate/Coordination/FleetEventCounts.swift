import Synchronization

/// Messages this instance put on the fleet's channel (events, asks to cede) and messages it heard there, its own
/// included: a replay waits until every instance has heard what was published before it goes on.
final class FleetEventCounts: Sendable {
    let published = Atomic<Int>(0)
    let heard = Atomic<Int>(0)
}
