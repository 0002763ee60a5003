/// One policy of one scope, as effects and their results name it: the scope's key (a tenant connection, or one
/// operation of it) and the policy's place among that scope's plans.
package struct PolicyReference: Sendable, Hashable {
    package let scope: GuardKey
    /// The policy's place in the scope's plans (``GuardEngine/ScopeTemplate/plans``).
    package let index: Int

    package init(scope: GuardKey, index: Int) {
        self.scope = scope
        self.index = index
    }
}
