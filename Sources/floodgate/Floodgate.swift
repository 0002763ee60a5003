import ArgumentParser
import NIOCore
import NIOPosix

#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

@main
struct FloodgateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floodgate",
        abstract: "Fleet-wide rate limits, circuit breakers and caching for third-party API calls, on a shared Redis.",
        subcommands: [RedisStatsCommand.self, ServeCommand.self, SimulateCommand.self, PingCommand.self],
        defaultSubcommand: RedisStatsCommand.self
    )

    static func main() async {
        // Run Swift concurrency on NIO's event loops: a task awaiting a Redis reply resumes on the loop that read
        // it instead of hopping to another thread (see the README's client benchmark).
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        do {
            var command = try parseAsRoot(nil)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            // A bad flag or value is a configuration error: one message, exit status 2 (argument-parser's default
            // is 64), before anything starts.
            if exitCode(for: error) == .validationFailure {
                // A ValidationError thrown while running has no parsing context: its message alone, without usage.
                let text = error is ValidationError ? "Error: " + message(for: error) : fullMessage(for: error)
                FileHandle.standardError.write(Data((text + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
