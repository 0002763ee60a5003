/// Keeps one connection up: opens it, hands it to `serve` until it closes, and after a failed attempt waits out the
/// back-off before the next. The client's shared connection and its pub/sub connection both run on it.
struct RedisReconnectLoop {
    let pause: ReconnectPause
    let backoff: RedisClientConfiguration.Backoff

    /// - Parameters:
    ///   - shouldRun: asked before each attempt (pub/sub waits there for a subscription); false ends the loop.
    ///   - open: opens a connection to the `target`th address in turn (a cluster's nodes rotate).
    ///   - serve: uses the open connection until it closes, told how many attempts failed before it; false ends the
    ///     loop (the owner shut down meanwhile). A throw counts as a failed attempt.
    ///   - failed: told of each failed attempt and how many have failed in a row.
    func run(
        while shouldRun: () async -> Bool,
        open: (_ target: Int) async throws -> RedisConnection,
        serve: (RedisConnection, _ failedBefore: Int) async throws -> Bool,
        failed: (any Error, _ inARow: Int) -> Void
    ) async {
        var failures = 0
        var target = 0
        var generator = SystemRandomNumberGenerator()
        while await shouldRun() {
            do {
                let connection = try await open(target)
                target += 1
                guard try await serve(connection, failures) else { return }
                failures = 0
            } catch {
                target += 1
                failures += 1
                failed(error, failures)
                await pause.sleep(for: backoff.delay(attempt: failures, using: &generator))
            }
        }
    }
}
