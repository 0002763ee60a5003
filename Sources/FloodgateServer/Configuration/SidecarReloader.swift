import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the configuration on SIGHUP (``Sidecar/reload()``): limits, breakers, shadow mode and `suspend.redis`
/// apply at once; a bad file, or a change that needs a restart, keeps the running configuration and logs one line
/// naming the key.
struct SidecarReloader: Service {
    let sidecar: Sidecar

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                do {
                    try await sidecar.reload()
                } catch {
                    sidecar.logger.error("configuration not reloaded: \(error)")
                }
            }
        }
    }
}
