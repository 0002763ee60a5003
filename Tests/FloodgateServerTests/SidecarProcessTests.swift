import FloodgateLocalRedis
import FloodgateRedis
import FloodgateTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The `floodgate` executable as an operator runs it: exit statuses for bad configuration, and `SIGTERM` under load
/// losing nothing the sidecar acknowledged.
@Suite("floodgate serve as a process", .serialized, .timeLimit(.minutes(3)))
struct SidecarProcessTests {
    @Test(arguments: [
        (["serve", "--port", "abc"], [:], "FLOODGATE_PORT"),
        (["serve"], ["FLEET_SIZE": "0"], "FLEET_SIZE"),
        (["serve"], ["REDIS_URL": "redis://:not-for-stderr@127.0.0.1:notaport"], "REDIS_URL"),
        (["serve", "--redis-ca", "/nonexistent/ca.pem", "--redis", "rediss://127.0.0.1:6380"], [:], "REDIS_TLS_CA"),
        (["serve", "--redis-ca", "/etc/passwd", "--redis", "rediss://127.0.0.1:6380"], [:], "REDIS_TLS_CA"),
        (["serve", "--socket", "/nonexistent/floodgate.sock"], [:], "FLOODGATE_SOCKET"),
        (["serve"], ["FLOODGATE_SOCKET": "/etc/passwd"], "FLOODGATE_SOCKET"),
        (["serve", "--no-such-flag"], [:], "--no-such-flag"),
        (["simulate", "--designs", "naive,fast"], [:], "--designs"),
        (["simulate", "--minutes", "0"], [:], "--minutes"),
    ] as [([String], [String: String], String)])
    func invalidConfigurationExitsWithStatus2AndNamesTheKey(arguments: [String], environment: [String: String], named: String) async throws {
        let run = try await FloodgateProcess.runToEnd(arguments, environment: environment)
        #expect(run.status == 2, "\(run.output)")
        #expect(run.output.contains(named), "\(run.output)")
        #expect(!run.output.contains("not-for-stderr"))
        if named != "--no-such-flag" {
            #expect(run.output.split(separator: "\n").count == 1, "one line: \(run.output)")
        }
    }

    /// `--socket PATH` serves the API on a Unix domain socket only this user can open (mode 0600); a socket left by
    /// a killed sidecar is replaced by the next one.
    @Test func aUnixSocketServesTheAPIToThisUserOnly() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fg-sock-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("floodgate.sock").path
        for round in 0..<2 {
            let log = folder.appendingPathComponent("serve-\(round).log")
            let sidecar = try FloodgateProcess.serve(socket: path, output: log)
            defer { sidecar.end(signal: SIGKILL) }
            try await eventually("the sidecar listens on \(path)") {
                (try? String(contentsOf: log, encoding: .utf8))?.contains("serving on http+unix://\(path)") == true
            }
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect(attributes[.type] as? FileAttributeType == .typeSocket)
            #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o777 } == 0o600, "other users are kept out")
            let live = try await UnixSocketHTTP.exchange(path, "GET /api/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(live.hasPrefix("HTTP/1.1 200") && live.contains(#"{"status":"alive"}"#), "\(live)")
            let body = #"{"integration":"slack","tenant":"T1"}"#
            let acquired = try await UnixSocketHTTP.exchange(
                path,
                "POST /v1/acquire HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            )
            #expect(acquired.hasPrefix("HTTP/1.1 200") && acquired.contains(#""permit":"fg-"#), "\(acquired)")
            // The first round is killed outright: its socket file stays behind for the second to replace.
            sidecar.send(SIGKILL)
            _ = await sidecar.waitForExit()
        }
        #expect(FileManager.default.fileExists(atPath: path), "a killed sidecar leaves its socket file")
    }

    /// A private redis-server dies with the process that started it, even when that process is killed outright:
    /// `floodgate simulate` starts one, is sent `SIGKILL`, and its redis-server is gone soon after.
    @Test func aPrivateRedisServerDiesWithAKilledParent() async throws {
        let simulate = try ChildProcess(
            try FloodgateProcess.executable().path,
            arguments: ["simulate", "--minutes", "600", "--designs", "naive"],
            environment: FloodgateProcess.environment([:])
        )
        defer { simulate.end(signal: SIGKILL) }
        var redis: Int32?
        try await eventually("floodgate simulate starts its redis-server") {
            redis = ProcFS.children(of: simulate.pid).first { ProcFS.command(of: $0) == "redis-server" }
            return redis != nil
        }
        let server = try #require(redis)
        simulate.send(SIGKILL)
        #expect(await simulate.waitForExit() == 128 + SIGKILL)
        try await eventually("the orphaned redis-server is gone") { !ProcFS.isAlive(server) }
    }

    /// Throttles recorded (acknowledged with 200) just before and while `SIGTERM` arrives are all in Redis after the
    /// process exits, and a restarted sidecar refuses those tenants.
    /// SIGHUP reloads the configuration file: a raised limit applies to the window in course with its counts kept,
    /// a file that does not parse or a change that needs a restart keeps what runs and logs one line naming the
    /// key, and `suspend.redis` switches Redis on and off. The limits are checked while switched off (the
    /// instance's local share is the whole limit in a fleet of one), where the counts are this process's alone.
    @Test func sighupReloadsLimitsAndTheKillSwitchAndKeepsTheRunningConfigurationOnABadFile() async throws {
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("floodgate-reload-\(UUID().uuidString.prefix(8)).json")
        defer { try? FileManager.default.removeItem(at: file) }
        func write(_ json: String) throws { try Data(json.utf8).write(to: file) }
        func limits(_ spec: String, suspend: Bool = false) -> String {
            #"{"floodgate": {"integrations": ["acme"], "limits": {"acme": ["\#(spec)"]}}, "suspend": {"redis": \#(suspend)}}"#
        }
        try write(limits("fixed:5/3600s", suspend: true))
        let sidecar = try await FloodgateProcess.serve(redisURL: server.url, environment: ["FLOODGATE_CONFIG": file.path])
        defer { sidecar.child.end(signal: SIGKILL) }
        func mode() async throws -> String? {
            try? await sidecar.withClient { try await $0.get("/api/health").object["mode"] as? String }
        }
        try await eventually("serving, switched off", within: .seconds(30)) { try await mode() == "localOnly" }
        func spend(_ attempts: Int) async throws -> Int {
            try await sidecar.withClient { client in
                var allowed = 0
                for _ in 0..<attempts {
                    if let permit = try await client.acquireResponse(integration: "acme", tenant: "t").object["permit"] as? String {
                        _ = try await client.record(permit, #""outcome":"success""#)
                        allowed += 1
                    }
                }
                return allowed
            }
        }
        #expect(try await spend(10) == 5)
        try write(limits("fixed:8/3600s", suspend: true))
        sidecar.reload()
        try await eventually("the new limit is in force") { try await spend(1) == 1 }
        #expect(try await spend(10) == 2, "8 in the window in course, 5 + 1 of them spent before")

        try write("{not json")
        sidecar.reload()
        try await eventually("the bad file is reported") { sidecar.log.contains("configuration not reloaded") }
        try write(#"{"floodgate": {"integrations": ["acme", "slack"], "limits": {"acme": ["fixed:8/3600s"]}}, "suspend": {"redis": true}}"#)
        sidecar.reload()
        try await eventually("the change that needs a restart is reported") { sidecar.log.contains("floodgate.integrations") }
        let refusals = sidecar.log.split(separator: "\n").filter { $0.contains("configuration not reloaded") }
        #expect(refusals.count == 2, "one line each: \(refusals)")
        #expect(refusals.first?.contains("floodgate.config") == true, "\(refusals)")
        #expect(try await spend(3) == 0, "still the limit of 8")

        #expect(try await mode() == "localOnly")
        try write(limits("fixed:8/3600s"))
        sidecar.reload()
        try await sidecar.waitUntilShared()
        try write(limits("fixed:8/3600s", suspend: true))
        sidecar.reload()
        try await eventually("switched off again") { try await mode() == "localOnly" }
        #expect(sidecar.child.isRunning)
    }

    /// `floodgate serve --redis` with a cluster node's URL: shared mode, decisions and fleet events on the cluster,
    /// the health report naming its primaries, and a limit held across two sidecars.
    @Test func servesOnARedisClusterFromAnyNodesURL() async throws {
        let cluster = try await LocalRedisCluster.start(replicas: 0)
        defer { cluster.stop() }
        let environment = ["FLOODGATE_LIMITS_HUBSPOT": "fixed:30/3600s", "FLEET_SIZE": "2"]
        let first = try await FloodgateProcess.serve(redisURL: cluster.nodes[1].url, environment: environment)
        let second = try await FloodgateProcess.serve(redisURL: cluster.nodes[2].url, environment: environment)
        try await first.waitUntilShared()
        try await second.waitUntilShared()
        let (primaries, slots) = try await first.withClient { client -> (Int?, Int?) in
            let redis = try await client.get("/api/health").object["redis"] as? [String: Any]
            let cluster = redis?["cluster"] as? [String: Any]
            return ((cluster?["primaries"] as? [Any])?.count, cluster?["slotsCovered"] as? Int)
        }
        #expect(primaries == 3 && slots == 16384, "the health report names the cluster")
        // 100 attempts on one tenant, alternating sidecars: exactly the limit is allowed fleet-wide.
        var allowed = 0
        for attempt in 0..<100 {
            let sidecar = attempt.isMultiple(of: 2) ? first : second
            if try await sidecar.withClient({ client in try await client.acquire(integration: "hubspot", tenant: "C1") }) != nil {
                allowed += 1
            }
        }
        #expect(allowed == 30, "a fixed 30 an hour, fleet-wide on the cluster")
        // A 429 recorded on one sidecar holds the tenant back on the other, through the cluster's pub/sub.
        let throttled = try await first.withClient { client in try await client.acquire(integration: "hubspot", tenant: "C2") }
        let permit = try #require(throttled)
        _ = try await first.withClient { client in try await client.record(permit, #""status":429,"headers":{"Retry-After":"600"}"#) }
        try await eventually("the other sidecar holds C2 back") {
            try await second.withClient { client in try await client.errorCode(ofAcquire: "C2", integration: "hubspot") } == "provider_backoff"
        }
        first.terminate()
        second.terminate()
        let statuses = (try await first.exitStatus(), try await second.exitStatus())
        #expect(statuses == (0, 0))
    }

    @Test func sigtermDuringLoadLosesNoAcknowledgedOutcome() async throws {
        let redis = try await LocalRedisServer.start()
        defer { redis.stop() }
        let sidecar = try await FloodgateProcess.serve(redisURL: redis.url)
        try await sidecar.waitUntilShared()
        // Its output goes to a file (block-buffered): the banner is there while it runs, not only at exit.
        #expect(sidecar.log.contains("floodgate serving on http://127.0.0.1:\(sidecar.port)"), "\(sidecar.log)")
        let acquired = try await sidecar.withClient { client in try await client.acquireResponse(tenant: "T0") }
        let text = String(buffer: try #require(acquired.body))
        #expect(text.contains(#""key":"slack/T0""#), "slashes unescaped: \(text)")

        let acknowledged = AcknowledgedTenants()
        let signalAfter = 100
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Background load: acquire and record success on 50 tenants, until the server goes away.
            for worker in 0..<4 {
                group.addTask {
                    try await sidecar.withClient { client in
                        var i = 0
                        do {
                            while true {
                                i += 1
                                guard let permit = try await client.acquire(tenant: "L\((worker * 13 + i) % 50)") else { continue }
                                _ = try await client.record(permit, #""outcome":"success""#)
                            }
                        } catch {
                            return  // the server went away
                        }
                    }
                }
            }
            // The burst: each tenant throttled once (news for the fleet); SIGTERM once `signalAfter` are acknowledged.
            for worker in 0..<8 {
                group.addTask {
                    try await sidecar.withClient { client in
                        for j in 0..<50 {
                            let tenant = "B\(worker * 50 + j)"
                            guard let permit = try? await client.acquire(tenant: tenant) else { return }  // refused, or gone
                            let recorded = try? await client.record(permit, #""status":429,"headers":{"Retry-After":"600"}"#)
                            guard recorded == .ok else { return }
                            let count = acknowledged.tenants.withLock { $0.append(tenant); return $0.count }
                            if count == signalAfter { sidecar.terminate() }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let status = try await sidecar.exitStatus()
        #expect(status == 0, "a graceful stop; log:\n\(sidecar.log)")

        let throttled = acknowledged.tenants.withLock { $0 }
        try #require(throttled.count >= signalAfter, "only \(throttled.count) throttles were acknowledged; log:\n\(sidecar.log)")
        let observer = try RedisClient(configuration: try RedisClientConfiguration(url: redis.url))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await observer.run() }
            defer { group.cancelAll() }
            let fields = try await observer.hgetall("fg:{fleet}:state")
            let lost = throttled.filter { fields["bo:slack:\($0)"] == nil }
            #expect(lost.isEmpty, "\(lost.count) of \(throttled.count) acknowledged throttles missing from the fleet state")
        }

        // A new sidecar on the same Redis holds those tenants back as soon as it says `shared` (it has read the fleet's
        // state by then).
        let restarted = try await FloodgateProcess.serve(redisURL: redis.url)
        try await restarted.waitUntilShared()
        let heldBack = try await restarted.withClient { client in
            try await client.errorCode(ofAcquire: throttled[throttled.count - 1])
        }
        #expect(heldBack == "provider_backoff")
        restarted.terminate()
        #expect(try await restarted.exitStatus() == 0)
    }

    /// A breaker opening acknowledged while Redis cannot answer (paused with `SIGSTOP`) is still published when
    /// `SIGTERM` arrives: it waits, unwritten, behind a throttle whose publish is in flight, and only the shutdown's
    /// drain sends it once Redis resumes. A new sidecar then refuses the integration.
    @Test func sigtermWhileRedisIsPausedStillPublishesAnAcknowledgedBreakerOpening() async throws {
        let redis = try await LocalRedisServer.start()
        defer { redis.stop() }
        let sidecar = try await FloodgateProcess.serve(redisURL: redis.url)
        try await sidecar.waitUntilShared()
        // Permits while Redis answers: one slack call, and ten hubspot calls (the default breaker trips on 50% of at
        // least 10 calls).
        let (throttled, failing) = try await sidecar.withClient { client in
            let throttled = try #require(try await client.acquire(tenant: "T9"))
            var failing: [String] = []
            for _ in 0..<10 {
                failing.append(try #require(try await client.acquireResponse(integration: "hubspot", tenant: "T1").object["permit"] as? String))
            }
            return (throttled, failing)
        }
        redis.pause(true)
        let recorded = try await sidecar.withClient { client in
            var statuses = [try await client.record(throttled, #""status":429,"headers":{"Retry-After":"600"}"#)]
            for permit in failing { statuses.append(try await client.record(permit, #""status":503"#)) }
            return statuses
        }
        #expect(recorded.allSatisfy { $0 == .ok }, "every failure acknowledged while Redis is paused")
        sidecar.terminate()
        redis.pause(false)
        #expect(try await sidecar.exitStatus() == 0, "a graceful stop; log:\n\(sidecar.log)")

        let observer = try RedisClient(configuration: try RedisClientConfiguration(url: redis.url))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await observer.run() }
            defer { group.cancelAll() }
            let state = try await observer.hgetall("fg:{fleet}:state")
            #expect(state["bo:slack:T9"] != nil, "the throttle in flight at SIGTERM: \(state.keys)")
            #expect(state["cb:hubspot"].map { String(buffer: $0).hasPrefix("open:") } == true, "the opening queued behind it")
        }
        let restarted = try await FloodgateProcess.serve(redisURL: redis.url)
        try await restarted.waitUntilShared()
        let code = try await restarted.withClient { client in
            (try await client.acquireResponse(integration: "hubspot", tenant: "T2").object["error"] as? [String: Any])?["code"] as? String
        }
        #expect(code == "breaker_open", "the whole fleet refuses the integration")
        restarted.terminate()
        #expect(try await restarted.exitStatus() == 0)
    }
}

/// Tenants whose throttle the sidecar acknowledged, from every client task.
final class AcknowledgedTenants: Sendable {
    let tenants = Mutex<[String]>([])
}

/// A `floodgate` child process: the executable built beside the test bundle, tied to the test process (it dies
/// with it, even by a crash) and ended when the object goes away, so a failing wait leaves nothing running.
final class FloodgateProcess: Sendable {
    let child: ChildProcess
    let port: Int
    private let logFile: URL

    private init(child: ChildProcess, port: Int, logFile: URL) {
        self.child = child
        self.port = port
        self.logFile = logFile
    }

    deinit {
        child.end(signal: SIGKILL)
        try? FileManager.default.removeItem(at: logFile)
    }

    /// `.build/<configuration>/floodgate`, next to the test bundle (`swift test` builds it with the tests).
    static func executable() throws -> URL {
        let candidates = [Bundle.main.executableURL, Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])]
            .compactMap { $0?.deletingLastPathComponent().appendingPathComponent("floodgate") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [
                NSLocalizedDescriptionKey: "no floodgate executable beside the tests (looked at \(candidates.map(\.path))): run swift build first",
            ])
        }
        return found
    }

    /// The environment of the test process less every variable the sidecar reads, plus `extra`.
    static func environment(_ extra: [String: String]) -> [String: String] {
        let read = ["FLOODGATE_", "REDIS_", "SUSPEND_REDIS", "FLEET_SIZE", "INSTANCE_", "SHARE_FRACTION", "KEY_PREFIX"]
        return ProcessInfo.processInfo.environment
            .filter { variable in !read.contains { variable.key.hasPrefix($0) } }
            .merging(extra) { $1 }
    }

    /// Runs `floodgate` to its end and returns its status and what it wrote.
    static func runToEnd(_ arguments: [String], environment: [String: String] = [:]) async throws -> ProgramRun {
        try await ProgramRun.run(try executable().path, arguments, environment: Self.environment(environment), timeout: .seconds(60))
    }

    /// Starts `floodgate serve` on a free loopback port against `redisURL`, with `environment` (a configuration
    /// file in `FLOODGATE_CONFIG`, for one).
    static func serve(redisURL: String, environment: [String: String] = [:]) async throws -> FloodgateProcess {
        let port = try LocalRedisServer.freeLoopbackPort()
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("floodgate-serve-\(port)-\(UUID().uuidString.prefix(8)).log")
        let child = try ChildProcess(
            try executable().path,
            arguments: ["serve", "--port", "\(port)", "--redis", redisURL],
            environment: Self.environment(environment),
            output: logFile
        )
        return FloodgateProcess(child: child, port: port, logFile: logFile)
    }

    /// Sends `SIGHUP`: reload the configuration.
    func reload() { child.send(SIGHUP) }

    /// Starts `floodgate serve --socket PATH` on the embedded default, its output into `output` (or nowhere).
    static func serve(socket path: String, output: URL? = nil) throws -> ChildProcess {
        try ChildProcess(try executable().path, arguments: ["serve", "--socket", path], environment: environment([:]), output: output)
    }

    /// What the process wrote so far.
    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Sends `SIGTERM`.
    func terminate() { child.send(SIGTERM) }

    /// Waits (up to 60 s) for the process to end; its exit status.
    func exitStatus() async throws -> Int32 {
        try await withDeadline(.seconds(60), "floodgate exits") { [child] in await child.waitForExit() }
    }

    /// Polls `/api/health` until the sidecar is listening and reports `shared` mode (up to 30 s).
    func waitUntilShared() async throws {
        do {
            try await eventually("floodgate reports shared mode", within: .seconds(30)) {
                guard child.isRunning else { throw WaitTimedOut(description: "floodgate exited:\n\(log)") }
                let mode = try? await withClient { client in try await client.get("/api/health").object["mode"] as? String }
                return mode == "shared"
            }
        } catch let error as WaitTimedOut {
            throw WaitTimedOut(description: "\(error); log:\n\(log)")
        }
    }

    /// Runs `body` with one HTTP/1.1 connection to the sidecar.
    func withClient<Value: Sendable>(_ body: @escaping @Sendable (SidecarConnection) async throws -> Value) async throws -> Value {
        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(10))) { client in
            try await body(SidecarConnection(client: client))
        }
    }
}

/// The two calls of the guard API over one `TestClient` connection.
struct SidecarConnection: Sendable {
    let client: TestClient

    func get(_ uri: String) async throws -> TestClient.Response { try await client.get(uri) }

    /// The sidecar's answer to an acquire for a call of `tenant` (on slack unless said); throws when the server is gone.
    func acquireResponse(integration: String = "slack", tenant: String) async throws -> TestClient.Response {
        try await client.post("/v1/acquire", body: ByteBuffer(string: #"{"integration":"\#(integration)","tenant":"\#(tenant)"}"#))
    }

    /// A permit for a call of `tenant` (on slack unless said), nil when refused; throws when the server is gone.
    func acquire(integration: String = "slack", tenant: String) async throws -> String? {
        try await acquireResponse(integration: integration, tenant: tenant).object["permit"] as? String
    }

    /// Records `fields` (JSON members) for `permit`; the response status.
    func record(_ permit: String, _ fields: String) async throws -> HTTPResponse.Status {
        try await client.post("/v1/record", body: ByteBuffer(string: #"{"permit":"\#(permit)",\#(fields)}"#)).status
    }

    /// The error code of an acquire for `tenant` (on slack unless said; nil when allowed).
    func errorCode(ofAcquire tenant: String, integration: String = "slack") async throws -> String? {
        (try await acquireResponse(integration: integration, tenant: tenant).object["error"] as? [String: Any])?["code"] as? String
    }
}

extension TestClient.Response {
    /// The body parsed as a JSON object (empty when it is not one).
    var object: [String: Any] {
        let bytes = body.map { Array($0.readableBytesView) } ?? []
        return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
    }
}

/// Processes as Linux's `/proc` shows them.
enum ProcFS {
    /// `pid`'s children: processes whose parent is `pid`.
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { stat(of: $0)?.parent == pid }
    }

    /// The command name of `pid` (its `comm`).
    static func command(of pid: Int32) -> String? { stat(of: pid)?.command }

    /// Whether `pid` exists and is not a zombie.
    static func isAlive(_ pid: Int32) -> Bool { stat(of: pid).map { $0.state != "Z" } ?? false }

    private static func stat(of pid: Int32) -> (command: String, state: Character, parent: Int32)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")")
        else { return nil }
        let rest = text[text.index(after: close)...].split(separator: " ")
        guard rest.count > 2, let state = rest[0].first, let parent = Int32(rest[1]) else { return nil }
        return (String(text[text.index(after: open)..<close]), state, parent)
    }
}

/// One HTTP/1.1 exchange over a Unix domain socket (the request says `Connection: close`): the raw response.
enum UnixSocketHTTP {
    static func exchange(_ path: String, _ request: String) async throws -> String {
        try await withDeadline(.seconds(10), "an answer on \(path)") {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: path) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: request))
                var response = ""
                for try await chunk in inbound { response += String(buffer: chunk) }
                return response
            }
        }
    }
}
