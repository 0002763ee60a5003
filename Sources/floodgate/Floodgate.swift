import ArgumentParser
import NIOCore
import NIOPosix

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
        let parseAndRun: ([String]?) async -> Void = Self.main
        await parseAndRun(nil)
    }
}
