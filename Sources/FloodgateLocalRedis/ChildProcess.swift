import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process tied to this one: it runs in a process group of its own beside a watchdog that kills the group
/// when this process goes away, even by a crash (the watchdog waits on a socket whose other end only this process holds).
///
/// Waiting never blocks a thread for long: ``waitForExit()`` polls, so a test or the CLI awaiting a child does not
/// hold one of Swift concurrency's few threads.
package final class ChildProcess: Sendable {
    /// Why a child could not be started.
    package struct SpawnError: Error, CustomStringConvertible {
        package let description: String
    }

    /// The child's pid (the process group's id too).
    package let pid: pid_t
    private struct State {
        var exitStatus: Int32?
        var lifeline: Int32
        var groupCleared = false
    }
    private let state: Mutex<State>

    /// The watchdog: started in the child's group before the program replaces the shell, it reads fd 3 (one end of the
    /// lifeline) until end of file, which comes only when this process's end is closed, then kills the whole group.
    private static let script = #"(read line <&3; kill -KILL 0) & exec 3<&-; cd -- "$1" || exit 127; shift; exec "$@""#

    /// Starts `executable` with `arguments`; its standard output and error go to `output` (created or truncated),
    /// or to /dev/null; standard input is /dev/null. `environment` nil inherits this process's.
    package init(
        _ executable: String,
        arguments: [String],
        environment: [String: String]? = nil,
        directory: String = FileManager.default.currentDirectoryPath,
        output: URL? = nil
    ) throws {
        var fds: [Int32] = [-1, -1]
        // Close-on-exec from the start, so no other child spawned meanwhile inherits the lifeline.
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SpawnError(description: "socketpair() failed: errno \(errno)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output?.path ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_adddup2(&actions, fds[0], 3)  // dup2 clears close-on-exec on the copy only
        Self.closeInheritedDescriptors(&actions, from: 4)
        // Threads of the Swift runtime block signals; the child must not inherit that mask, or it would ignore
        // SIGTERM. Reset the mask and the default actions, and give it a process group of its own.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let argv = ["/bin/sh", "-c", Self.script, "floodgate-child", directory, executable] + arguments
        let environment = environment ?? ProcessInfo.processInfo.environment
        let cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnvironment: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in cArguments + cEnvironment { free(pointer) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, "/bin/sh", &actions, &attributes, cArguments, cEnvironment)
        close(fds[0])
        guard status == 0 else {
            close(fds[1])
            throw SpawnError(description: "cannot start \(executable): error \(status)")
        }
        self.pid = pid
        state = Mutex(State(lifeline: fds[1]))
    }

    /// Adds to `actions` the closing of every descriptor from `lowest` up. NIO opens its sockets without
    /// close-on-exec, so without this a child spawned by a test would hold every connection of this process open:
    /// a proxy or client closing one would send no FIN while the child lives, and the peer would never notice.
    /// Uses glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; Swift's Glibc module does not import
    /// it); on an older libc, closes what `/proc/self/fd` lists now.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t, from lowest: Int32) {
        if let addCloseFrom = closeFromAction {
            _ = addCloseFrom(&actions, lowest)
            return
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        // A descriptor closed meanwhile is no error: glibc ignores a failed close of a valid descriptor number.
        for descriptor in open.compactMap({ Int32($0) }) where descriptor >= lowest {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let closeFromAction: AddCloseFrom? = {
        // A null handle is RTLD_DEFAULT: the symbol wherever the process has it.
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// The exit status (or 128 + the signal that ended it) once the child has exited; nil while it runs.
    package var exitStatus: Int32? {
        state.withLock { state in
            if let status = state.exitStatus { return status }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            guard result == pid else { return nil }
            state.exitStatus = Self.decode(status)
            return state.exitStatus
        }
    }

    /// Whether the child still runs.
    package var isRunning: Bool { exitStatus == nil }

    /// Sends `signal` to the child alone (not its watchdog).
    package func send(_ signal: Int32) {
        guard isRunning else { return }
        _ = Glibc.kill(pid, signal)
    }

    /// Waits until the child has exited (polling every few milliseconds), then removes its watchdog.
    @discardableResult
    package func waitForExit() async -> Int32 {
        while true {
            if let status = exitStatus {
                clearGroup()
                return status
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Signals the child and waits for it to exit, blocking the calling thread: for `deinit` and `defer`, where
    /// nothing can be awaited. A child that ignores `signal` is killed after `grace`.
    package func end(signal: Int32, grace: Duration = .seconds(5)) {
        if signal != SIGKILL { send(SIGCONT) }  // a paused child cannot act on SIGTERM
        send(signal)
        let deadline = ContinuousClock.now + grace
        while isRunning {
            if ContinuousClock.now >= deadline { send(SIGKILL) }
            usleep(1_000)
        }
        clearGroup()
    }

    /// Kills what is left of the group (the watchdog) and closes the lifeline, once the child has exited.
    private func clearGroup() {
        let lifeline: Int32? = state.withLock { state in
            guard !state.groupCleared else { return nil }
            state.groupCleared = true
            return state.lifeline
        }
        guard let lifeline else { return }
        // The group outlives its leader while the watchdog lives, so its id cannot have been reused.
        _ = killpg(pid, SIGKILL)
        close(lifeline)
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    deinit {
        if isRunning { end(signal: SIGKILL) } else { clearGroup() }
    }
}
