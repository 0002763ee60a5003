import Configuration
import Synchronization

/// Collects the values swift-configuration could not convert (a port of `abc`, a flag of `maybe`), which its
/// non-throwing readers would otherwise replace by the default without a word.
final class ConfigurationProblems: AccessReporter, Sendable {
    private let problems = Mutex<[SidecarConfigurationError]>([])

    func report(_ event: AccessEvent) {
        let key = event.metadata.key.description
        if let error = event.conversionError {
            problems.withLock { $0.append(SidecarConfigurationError(key: key, problem: "cannot be read as \(event.metadata.valueType): \(error)")) }
        } else if case .failure(let error) = event.result {
            problems.withLock { $0.append(SidecarConfigurationError(key: key, problem: "\(error)")) }
        }
    }

    /// The first problem seen, if any.
    var first: SidecarConfigurationError? { problems.withLock { $0.first } }
}
