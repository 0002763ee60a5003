/// The fleet as one instance last read it from Redis: who is a member, since when, and until when.
///
/// **Counting.** For a policy whose window is `W`, an instance divides the policy's share total by the number of
/// members whose membership ended no more than `W + skew` before the view was taken (itself included). A member that
/// left, crashed or was cut off therefore stays counted as long as any of its calls can still lie in a window, and
/// shares never add up to more than the total. Counts are taken at the view's time, not the decision's, so a view
/// that cannot be refreshed (Redis unreachable) never drops anyone.
///
/// **Joining.** A new member uses no share of a policy until `heartbeat + skew + W` after it joined: by then every
/// member has refreshed its view (and shrunk its share), and the calls they made on their larger shares have left
/// every window. Until then it borrows from the pool.
///
/// **Recovering.** The first view read after an outage keeps the previous view's counts as a floor for one heartbeat
/// plus `W`, so members that have not renewed yet (they are still recovering) are not dropped meanwhile.
package struct MembershipView: Sendable, Hashable {
    package struct Member: Sendable, Hashable {
        package var id: String
        package var joinedAt: Int64
        package var expiresAt: Int64
    }

    package let members: [Member]
    /// When the view was read (this instance's clock, nanoseconds since 1970).
    package let takenAt: Int64
    package let selfID: String
    /// Counts of an earlier view that still bound these from below, and until when.
    package let floor: [Member]
    package let floorTakenAt: Int64
    package let floorUntil: Int64

    package init(members: [Member], takenAt: Int64, selfID: String, previous: MembershipView? = nil, floorFor: Int64 = 0) {
        self.members = members
        self.takenAt = takenAt
        self.selfID = selfID
        if let previous {
            floor = previous.members
            floorTakenAt = previous.takenAt
            floorUntil = takenAt + floorFor
        } else {
            floor = []
            floorTakenAt = 0
            floorUntil = .min
        }
    }

    /// When this instance joined, as the fleet records it.
    package var selfJoinedAt: Int64? { members.first { $0.id == selfID }?.joinedAt }

    /// When this instance's membership ends unless it is renewed, as the fleet records it.
    package var selfExpiresAt: Int64? { members.first { $0.id == selfID }?.expiresAt }

    /// The members to count for a policy with window `window` (at least 1: this instance).
    package func count(window: Int64, skew: Int64, at now: Int64) -> Int {
        var counted = Self.count(members, window: window, skew: skew, at: takenAt, selfID: selfID)
        if now < floorUntil + window {
            counted = max(counted, Self.count(floor, window: window, skew: skew, at: floorTakenAt, selfID: selfID))
        }
        return counted
    }

    private static func count(_ members: [Member], window: Int64, skew: Int64, at time: Int64, selfID: String) -> Int {
        var counted = 0
        var sawSelf = false
        for member in members where member.expiresAt &+ window &+ skew >= time || member.id == selfID {
            counted += 1
            if member.id == selfID { sawSelf = true }
        }
        return counted + (sawSelf ? 0 : 1)
    }

    /// The members counted for a policy with window `window` that may be past their joining wait (`wait` after they
    /// joined) by `time`: a superset of those that can spend an allowance until then. A member this view does not
    /// know joined after it was taken, so it cannot be eligible before a heartbeat plus the window from now.
    package func eligibleMembers(window: Int64, skew: Int64, wait: Int64, by time: Int64) -> [String] {
        var found = Set<String>()
        for member in members where member.expiresAt &+ window &+ skew >= takenAt || member.id == selfID {
            if member.joinedAt &+ wait <= time { found.insert(member.id) }
        }
        if time < floorUntil + window {
            for member in floor where member.joinedAt &+ wait <= time { found.insert(member.id) }
        }
        return found.sorted()
    }

    /// The first moment after `time` at which a member of this view that is not yet past its joining wait (`wait`
    /// after it joined) may become so; nil when none is waiting.
    package func nextEligibility(after time: Int64, window: Int64, skew: Int64, wait: Int64) -> Int64? {
        members.compactMap { member -> Int64? in
            let eligible = member.joinedAt &+ wait
            let counted = member.expiresAt &+ window &+ skew >= takenAt || member.id == selfID
            return counted && eligible > time ? eligible : nil
        }.min()
    }

    /// Whether this instance may use its share of a policy with window `window` at `now`.
    package func mayUseShare(window: Int64, skew: Int64, heartbeat: Int64, at now: Int64) -> Bool {
        guard let joined = selfJoinedAt else { return false }
        return now >= joined &+ heartbeat &+ skew &+ window
    }

    /// Reads the members out of a `ZRANGE … WITHSCORES` reply of `id|joinedMs` members scored by expiry in ms.
    package static func members(fromRange pairs: [(String, Double)]) -> [Member] {
        pairs.compactMap { name, score in
            guard let bar = name.lastIndex(of: "|"), let joined = Int64(name[name.index(after: bar)...]) else {
                return nil
            }
            return Member(
                id: String(name[..<bar]),
                joinedAt: joined * 1_000_000,
                expiresAt: Int64(score) * 1_000_000
            )
        }
    }
}
