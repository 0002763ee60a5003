import Configuration
import SystemPackage

extension SidecarConfiguration {
    /// Keys whose values are secrets: never printed, logged or reported.
    static let secretEnvironmentVariables: Set<String> = ["REDIS_URL", "FLOODGATE_TOKEN"]

    /// Reads the configuration in its documented precedence: `flags` (command-line values by key, e.g.
    /// `floodgate.port`) over `environment` over the JSON file named by `floodgate.config` (`FLOODGATE_CONFIG`, or
    /// `--config`) over the defaults. A value that cannot be converted is an error, not a silent default.
    ///
    /// - Throws: ``SidecarConfigurationError`` naming the key.
    public static func load(
        flags: [String: String] = [:],
        environment: [String: String]
    ) async throws(SidecarConfigurationError) -> SidecarConfiguration {
        let problems = ConfigurationProblems()
        // Flags are strings like environment variables: read them the same way (typed on access), by their
        // environment names.
        let flagProvider = EnvironmentVariablesProvider(
            environmentVariables: Dictionary(uniqueKeysWithValues: flags.map { (environmentName(of: $0.key), $0.value) }),
            secretsSpecifier: .specific(secretEnvironmentVariables)
        )
        let environmentProvider = EnvironmentVariablesProvider(
            environmentVariables: environment,
            secretsSpecifier: .specific(secretEnvironmentVariables)
        )
        var providers: [any ConfigProvider] = [flagProvider, environmentProvider]
        let early = ConfigReader(providers: providers)
        if let path = early.string(forKey: "floodgate.config") {
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(path)))
            } catch {
                throw SidecarConfigurationError(key: "floodgate.config", problem: "cannot read \(path) as JSON: \(error)")
            }
        }
        let configuration = try SidecarConfiguration(config: ConfigReader(providers: providers, accessReporter: problems))
        if let problem = problems.first { throw problem }
        return configuration
    }

    /// `floodgate.port` → `FLOODGATE_PORT`.
    static func environmentName(of key: String) -> String {
        String(key.uppercased().map { $0 == "." ? "_" : $0 })
    }
}
