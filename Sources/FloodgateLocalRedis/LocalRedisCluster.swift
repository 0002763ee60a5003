import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private Redis Cluster on loopback: `primaries` cluster-enabled `redis-server` children with `replicas` replicas
/// each, joined by `redis-cli --cluster create`, ready once every node says `cluster_state:ok`.
///
/// Tests start one per suite; failover tests kill a primary and wait for its replica to take over. At most two
/// clusters run at once in a process (a start waits for one to stop): on a small machine, more dozens of servers
/// starting at once starve each other.
public final class LocalRedisCluster: Sendable {
    /// Why the cluster could not be made ready.
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Every node, in the order given to `redis-cli --cluster create` (primaries first).
    public let nodes: [LocalRedisServer]
    /// How long a node may be unreachable before the others count it failed (`cluster-node-timeout`).
    public let nodeTimeout: Duration
    /// The password every node requires (`requirepass`, and `masterauth` for replication), if any.
    public let password: String?
    /// TLS for clients, the cluster bus and replication (plain ports off), if any.
    public let tls: LocalRedisServer.TLSFiles?

    private let stopped = Mutex(false)

    /// The URL of the first node; any node's URL works for a cluster-aware client.
    public var url: String { nodes[0].url }

    /// `redis-cli`: `$REDIS_CLI`, else next to `redis-server`, else on `PATH`.
    public static func findCLI() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["REDIS_CLI"], FileManager.default.isExecutableFile(atPath: explicit) { return explicit }
        let folders = [LocalRedisServer.findExecutable().map { ($0 as NSString).deletingLastPathComponent }].compactMap { $0 }
            + (environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        return folders.map { $0 + "/redis-cli" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts the nodes, creates the cluster and waits (up to a minute) until every node agrees on it.
    public static func start(
        primaries: Int = 3,
        replicas: Int = 1,
        nodeTimeout: Duration = .milliseconds(1_000),
        password: String? = nil,
        tls: LocalRedisServer.TLSFiles? = nil,
        arguments: [String] = []
    ) async throws -> LocalRedisCluster {
        guard primaries >= 3 else { throw StartError(description: "redis-cli --cluster create needs at least 3 primaries") }
        guard findCLI() != nil else {
            throw StartError(description: "redis-cli is not installed: install it with `apt-get install -y redis-tools`")
        }
        await ClusterSlots.shared.acquire()
        do {
            return try await create(
                primaries: primaries, replicas: replicas, nodeTimeout: nodeTimeout, password: password, tls: tls,
                arguments: arguments
            )
        } catch {
            await ClusterSlots.shared.release()
            throw error
        }
    }

    private static func create(
        primaries: Int,
        replicas: Int,
        nodeTimeout: Duration,
        password: String?,
        tls: LocalRedisServer.TLSFiles?,
        arguments: [String]
    ) async throws -> LocalRedisCluster {
        let milliseconds = Int(nodeTimeout.components.seconds * 1_000 + nodeTimeout.components.attoseconds / 1_000_000_000_000_000)
        let options = LocalRedisServer.Options(
            arguments: [
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", String(milliseconds), "--cluster-require-full-coverage", "no",
            ] + (password.map { ["--requirepass", $0, "--masterauth", $0] } ?? [])
                + (tls == nil ? [] : ["--tls-cluster", "yes", "--tls-replication", "yes"]) + arguments,
            tls: tls,
            clusterBus: true,
            startTimeout: .seconds(30)
        )
        var nodes: [LocalRedisServer] = []
        do {
            for _ in 0..<(primaries * (1 + replicas)) { nodes.append(try await LocalRedisServer.start(options)) }
        } catch {
            for node in nodes { node.kill() }
            throw error
        }
        let cluster = LocalRedisCluster(nodes: nodes, nodeTimeout: nodeTimeout, password: password, tls: tls)
        do {
            let create = try await cluster.cli(
                ["--cluster", "create"] + nodes.map { "\($0.host):\($0.port)" }
                    + ["--cluster-replicas", String(replicas), "--cluster-yes"]
            )
            guard create.status == 0 else { throw StartError(description: "redis-cli --cluster create failed: \(create.output.suffix(800))") }
            try await cluster.waitUntilHealthy(timeout: .seconds(60))
        } catch {
            cluster.abandon()
            throw error
        }
        return cluster
    }

    private init(nodes: [LocalRedisServer], nodeTimeout: Duration, password: String?, tls: LocalRedisServer.TLSFiles?) {
        self.nodes = nodes
        self.nodeTimeout = nodeTimeout
        self.password = password
        self.tls = tls
    }

    /// Waits until every running node reports `cluster_state:ok`, knows all 16,384 slots, and every replica has
    /// finished its first sync.
    public func waitUntilHealthy(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            var healthy = true
            for node in nodes where node.isRunning {
                let info = try await cli(["-p", String(node.port), "cluster", "info"]).output
                let replication = try await cli(["-p", String(node.port), "info", "replication"]).output
                let syncing = replication.contains("role:slave")
                    && (!replication.contains("master_link_status:up") || replication.contains("master_sync_in_progress:1"))
                if !info.contains("cluster_state:ok") || !info.contains("cluster_slots_ok:16384") || syncing {
                    healthy = false
                    last = "node \(node.port): \(info.prefix(200)) \(replication.prefix(200))"
                    break
                }
            }
            if healthy { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw StartError(description: "the cluster was not healthy within \(timeout): \(last)")
    }

    /// Runs `redis-cli` with `arguments` (and the cluster's password) against this machine's loopback and returns its
    /// status and output.
    public func cli(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (status: Int32, output: String) {
        guard let cli = Self.findCLI() else { throw StartError(description: "redis-cli is not installed") }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("floodgate-cli-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let auth = password.map { ["-a", $0, "--no-auth-warning"] } ?? []
        let secure = tls.map { ["--tls", "--cacert", $0.caCertificatePath] } ?? []
        let child = try ChildProcess(cli, arguments: ["-h", "127.0.0.1"] + auth + secure + arguments, output: log)
        let deadline = ContinuousClock.now + timeout
        while child.isRunning {
            if ContinuousClock.now >= deadline {
                child.end(signal: SIGKILL)
                throw StartError(description: "redis-cli \(arguments.joined(separator: " ")) did not finish within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let status = await child.waitForExit()
        return (status, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    /// Stops every node (and frees this cluster's place among those that may run at once).
    public func stop() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        stopNodes()
        Task { await ClusterSlots.shared.release() }
    }

    /// Stops the nodes of a cluster that failed to start (its place is freed by the start that failed).
    private func abandon() {
        stopped.withLock { $0 = true }
        stopNodes()
    }

    private func stopNodes() {
        for node in nodes { node.stop() }
    }

    deinit { stop() }
}

/// How many local clusters may run at once in this process.
private actor ClusterSlots {
    static let shared = ClusterSlots(count: 2)

    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { free = count }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
