import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The robustness suites, run one at a time: each drives a real gatherd
/// through hundreds of jobs, and several at once on two cores starve each
/// other and every timing-bounded test running beside them.
@Suite("gatherd end to end: robustness", .serialized)
enum RobustnessEndToEnd {}

/// MESSAGE_IDs the robustness tests read back (SPEC §7).
enum MessageID {
    static let jobFailed = "2567adab07a549029b2ad935f355fc66"
    static let jobRejected = "14aab89053904a78921c57d0c64d6cac"
    static let jobInterrupted = "d3be6196e2bd46a789785f97097cb3e5"
    static let spoolWriteError = "d649cc7d09c1441c84c15074a4a6e572"
    static let daemonReady = "08982e59b9f0491b9db5d3506543a0f5"
    static let daemonStopping = "7de80dd028b948c7a66a170cb9c4a9e8"
}

extension DaemonHarness {
    /// Writes `bytes` as `incoming/.tmp-RANDOM`, then renames it to `name`
    /// (raw bytes, so a name that is not UTF-8 can be dropped too).
    func dropRaw(name: [UInt8], _ bytes: [UInt8], mode: mode_t = 0o644, owner: uid_t? = nil) throws {
        let temporary = spool + "/incoming/.tmp-\(UInt32.random(in: 0...UInt32.max))"
        try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        chmod(temporary, mode)
        if let owner { chown(temporary, owner, gid_t(owner)) }
        let target = (Array((spool + "/incoming/").utf8) + name + [0]).map { CChar(bitPattern: $0) }
        let renamed = target.withUnsafeBufferPointer { rename(temporary, $0.baseAddress!) }
        guard renamed == 0 else {
            throw FixtureError(what: "rename to \(String(decoding: name, as: UTF8.self))", output: String(cString: strerror(errno)))
        }
    }

    /// `active/ID/state.json` with `state.log` applied (the job's state now,
    /// as `gatherctl status` reads it), decoded; `nil` while it is missing.
    func stateFile(_ id: String) -> [String: Any]? {
        currentState(spool: spool, id: id)
    }

    /// The process group IDs the state lists for job `id` (empty when none yet).
    func processGroups(_ id: String) -> [pid_t] {
        let groups = stateFile(id)?["process_groups"] as? [[String: Any]] ?? []
        return groups.compactMap { ($0["pgid"] as? Int).map(pid_t.init) }
    }

    /// For every job directory in `done/`, `failed/`, `rejected/`: the areas
    /// holding it (more than one would be a job recorded twice).
    func finishedJobs() -> [String: [String]] {
        var found: [String: [String]] = [:]
        for area in ["done", "failed", "rejected"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(spool)/\(area)")) ?? [] {
                found[name, default: []].append(area)
            }
        }
        return found
    }

    /// The names in one spool directory (`incoming`, `active`…).
    func names(in area: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(spool)/\(area)")) ?? []).sorted()
    }
}

/// The journal entries gatherd process `pid` sent with `messageID` (for the
/// daemon's own entries, which carry no `GATHER_JOB`).
func daemonEntries(pid: pid_t, messageID: String) async throws -> [ReadBackEntry] {
    try await offPool {
        DaemonStarts.sinceStart(of: pid, try TestJournald.readBack(match: ["MESSAGE_ID=\(messageID)", "_PID=\(pid)"]))
    }
}

/// The processes (not zombies) whose process group is `pgid`, from `/proc`.
func liveMembers(ofGroup pgid: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { name -> pid_t? in
        guard let pid = pid_t(name),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After the command: state, ppid, pgrp.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == pgid else { return nil }
        return pid
    }
}

/// Everything a notify socket received, gathered by a thread of its own so a
/// test can wait for a message while it does other things.
final class NotifyLog: @unchecked Sendable {
    /// One datagram and when it arrived.
    struct Message {
        let at: ContinuousClock.Instant
        let assignments: [(name: String, value: String)]

        func value(_ name: String) -> String? { assignments.first { $0.name == name }?.value }
    }

    private let receiver: NotifyReceiver
    private let lock = NSLock()
    private var received: [Message] = []
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    /// The socket path to pass as `NOTIFY_SOCKET`.
    var path: String { receiver.path }

    init() throws {
        receiver = try NotifyReceiver()
        let thread = Thread { [self] in
            while !isStopped {
                guard let assignments = receiver.receive(timeout: .milliseconds(100)) else { continue }
                lock.lock()
                received.append(Message(at: .now, assignments: assignments))
                lock.unlock()
            }
            finished.signal()
        }
        thread.start()
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    /// Ends the reading thread; call before the log is dropped.
    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        finished.wait()
    }

    /// Every message so far, in arrival order.
    var messages: [Message] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// Every value of `name` so far, in arrival order.
    func values(_ name: String) -> [String] { messages.compactMap { $0.value(name) } }
}

// MARK: Waiting without blocking
//
// Swift Testing runs every test on Swift's cooperative pool, which has one
// thread per core (two here). A test that polls with usleep holds one of
// them for its whole run and starves every other suite's async tests (their
// timing bounds then fail), so these long tests wait with Task.sleep.

/// Polls `condition` every 10 ms until it holds or `limit` passes.
func eventually(limit: Duration = .seconds(20), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now.advanced(by: limit)
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}

/// Runs blocking work (journalctl, thousands of files) on a Dispatch thread,
/// off the cooperative pool.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// Sleeps without holding a thread.
func pause(_ duration: Duration) async {
    try? await Task.sleep(for: duration)
}

extension RunningDaemon {
    /// Waits for the exit; returns the exit status, or nil after `limit`.
    func exitStatus(limit: Duration) async -> Int32? {
        guard await eventually(limit: limit, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }
}

extension DaemonHarness {
    /// ``start(_:notifySocket:watchdogUSec:)`` under `nice -n 10` (every thread
    /// and task inherits it): the heavy tests drive hundreds of jobs on two
    /// cores and must not starve the timing-bounded tests running beside them.
    func startNiced(_ arguments: [String] = [], notifySocket: String? = nil) throws -> RunningDaemon {
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        environment.removeValue(forKey: "WATCHDOG_USEC")
        if let notifySocket { environment["NOTIFY_SOCKET"] = notifySocket }
        // nice execs gatherd: the PID is gatherd's.
        return try RunningDaemon(
            binary: "/usr/bin/nice",
            arguments: ["-n", "10", Self.binary, "--spool", spool, "--log-target", "journal"] + withCgroup(arguments),
            environment: environment)
    }

    /// ``runUntilIdle(_:limit:)`` niced, without blocking a thread while gatherd runs.
    @discardableResult
    func runToIdle(_ arguments: [String] = [], limit: Duration = .seconds(60)) async throws -> RunningDaemon {
        let daemon = try startNiced(["--exit-when-idle"] + arguments)
        guard await daemon.exitStatus(limit: limit) != nil else {
            daemon.kill(SIGKILL)
            throw FixtureError(what: "gatherd --exit-when-idle", output: "still running after \(limit)\n\(daemon.stderr)")
        }
        return daemon
    }
}

extension DaemonHarness {
    /// ``journal(_:)`` read off the cooperative pool.
    func journalEntries(_ id: String) async throws -> [ReadBackEntry] {
        try await offPool { try self.journal(id) }
    }
}

extension NotifyLog {
    /// The first message with `name` (and a value satisfying `matching`), waiting up to `limit`.
    func message(_ name: String, limit: Duration = .seconds(20), matching: (String) -> Bool = { _ in true }) async -> Message? {
        var found: Message?
        _ = await eventually(limit: limit) {
            found = messages.first { $0.value(name).map(matching) ?? false }
            return found != nil
        }
        return found
    }
}
