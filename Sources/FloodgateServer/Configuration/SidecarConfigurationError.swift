/// A configuration value the sidecar cannot start with: which key, and what is wrong. Printed as one line.
public struct SidecarConfigurationError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The configuration key (`floodgate.port`; `FLOODGATE_PORT` in the environment), when one is to blame.
    public var key: String?
    public var problem: String

    public init(key: String?, problem: String) {
        self.key = key
        self.problem = problem
    }

    public var description: String {
        guard let key else { return "invalid configuration: \(problem)" }
        let environment = SidecarConfiguration.environmentName(of: key)
        return "invalid configuration: \(key) (\(environment)): \(problem)"
    }
}
