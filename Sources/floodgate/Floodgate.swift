import ArgumentParser

@main
struct Floodgate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floodgate",
        abstract: "Fleet-wide rate limits, circuit breakers and caching for third-party API calls, on a shared Redis.",
        subcommands: [RedisStatsCommand.self, PingCommand.self],
        defaultSubcommand: RedisStatsCommand.self
    )
}
