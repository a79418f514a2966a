import Foundation
import Synchronization
import GatherTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Runs the real `gatherd` binary on a temporary spool, for end-to-end tests:
/// drop job files, start the daemon (with a notify socket if asked), read the
/// records it wrote and the journal entries it sent (read back from journald).
final class DaemonHarness: @unchecked Sendable {
    /// The spool directory (fresh, under /tmp).
    let spool: String
    /// A prefix for job IDs, unique per harness, because every test shares one journal.
    let prefix: String

    /// This harness's own cgroup subtree: every daemon it starts gets
    /// `--cgroup PATH` (or `--cgroup off` where none can be made), so daemons
    /// of parallel tests never share one and never sweep each other's jobs.
    let cgroup: TestCgroup?

    init(_ name: String) throws {
        prefix = "\(name)-\(UInt32.random(in: 0...UInt32.max))"
        cgroup = TestCgroup.make(name, quiet: true)
        spool = NSTemporaryDirectory() + "gatherd-it-" + prefix
        try FileManager.default.createDirectory(atPath: spool + "/incoming", withIntermediateDirectories: true)
        chmod(spool + "/incoming", 0o700)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: spool)
        try? FileManager.default.removeItem(atPath: scratchPath)
    }

    /// The path of the `gatherd` binary SwiftPM built beside the tests.
    static var binary: String { Run.buildProductsDirectory + "/gatherd" }

    /// A job ID unique to this harness: `PREFIX-name`.
    func id(_ name: String) -> String { "\(prefix)-\(name)" }

    /// Drops `json` as `incoming/ID.json` the way users should: a dotfile, then
    /// a rename. `owner` chowns the file first (tests run as root).
    @discardableResult
    func drop(_ id: String, _ json: String, owner: uid_t? = nil, group: gid_t? = nil, mode: mode_t = 0o644) throws -> String {
        let temporary = spool + "/incoming/.\(id).tmp"
        try Data(json.utf8).write(to: URL(fileURLWithPath: temporary))
        chmod(temporary, mode)
        if let owner { chown(temporary, owner, group ?? gid_t(owner)) }
        guard rename(temporary, spool + "/incoming/\(id).json") == 0 else {
            throw FixtureError(what: "rename \(id)", output: String(cString: strerror(errno)))
        }
        return id
    }

    /// Starts gatherd; the caller stops it (or it exits with `--exit-when-idle`).
    func start(
        _ arguments: [String] = [], notifySocket: String? = nil, watchdogUSec: Int? = nil, extraEnvironment: [String: String] = [:]
    ) throws -> RunningDaemon {
        var environment = ProcessInfo.processInfo.environment.merging(extraEnvironment) { _, extra in extra }
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        if let notifySocket { environment["NOTIFY_SOCKET"] = notifySocket }
        if let watchdogUSec { environment["WATCHDOG_USEC"] = String(watchdogUSec) }
        return try RunningDaemon(
            binary: Self.binary, arguments: ["--spool", spool, "--log-target", "journal"] + withCgroup(arguments),
            environment: environment)
    }

    /// `arguments` with this harness's `--cgroup` first, unless they name one.
    func withCgroup(_ arguments: [String]) -> [String] {
        (arguments.contains("--cgroup") ? [] : ["--cgroup", cgroup?.path ?? "off"]) + arguments
    }

    /// Runs gatherd with `--exit-when-idle` until it exits (at most `limit`).
    @discardableResult
    func runUntilIdle(_ arguments: [String] = [], limit: Duration = .seconds(60)) throws -> RunningDaemon {
        let daemon = try start(["--exit-when-idle"] + arguments)
        guard daemon.wait(limit: limit) != nil else {
            daemon.kill(SIGKILL)
            throw FixtureError(what: "gatherd --exit-when-idle", output: "still running after \(limit)\n\(daemon.stderr)")
        }
        return daemon
    }

    /// The state directory holding job `id` (`done`, `failed`, `rejected`, `active`), if any.
    func area(of id: String) -> String? {
        for area in ["done", "failed", "rejected", "active"] where FileManager.default.fileExists(atPath: "\(spool)/\(area)/\(id)") {
            return area
        }
        return nil
    }

    /// The `result.json` of job `id`, decoded.
    func record(_ id: String) throws -> JobRecordJSON {
        guard let area = area(of: id), area != "active" else {
            throw FixtureError(what: "record of \(id)", output: "no finished job directory; spool has \(listing())")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(spool)/\(area)/\(id)/result.json"))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FixtureError(what: "record of \(id)", output: "not a JSON object")
        }
        return JobRecordJSON(area: area, object: object)
    }

    /// Every file name in every state directory, for failure messages.
    func listing() -> String {
        ["incoming", "active", "done", "failed", "rejected", "cancel"].map { area in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(spool)/\(area)")) ?? []
            return "\(area): \(names.sorted())"
        }.joined(separator: "; ")
    }

    /// The journal entries about job `id`, read back from journald.
    func journal(_ id: String) throws -> [ReadBackEntry] {
        try TestJournald.readBack(match: ["GATHER_JOB=\(id)"])
    }
}

/// A record as the test reads it.
struct JobRecordJSON: @unchecked Sendable {
    let area: String
    let object: [String: Any]

    var state: String? { object["state"] as? String }
    var error: String? { object["error"] as? String }
    var tasks: [[String: Any]] { object["tasks"] as? [[String: Any]] ?? [] }

    func task(_ name: String) -> [String: Any]? { tasks.first { $0["name"] as? String == name } }
    func outcome(_ name: String) -> String? { task(name)?["outcome"] as? String }
    func reason(_ name: String) -> String? { task(name)?["reason"] as? String }
}

/// A gatherd process started by a test.
final class RunningDaemon: @unchecked Sendable {
    let process: Process
    private let errorPipe = Pipe()
    private let lock = NSLock()
    private var collected = Data()
    /// The pipe's end of file was read: every byte gatherd wrote is in `collected`.
    private var ended = false

    init(binary: String, arguments: [String], environment: [String: String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errorPipe
        errorPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.lock()
            if data.isEmpty {
                self.ended = true
                handle.readabilityHandler = nil
            } else {
                self.collected.append(data)
            }
            self.lock.unlock()
        }
        let started = DaemonStarts.now()
        try process.run()
        DaemonStarts.record(pid: process.processIdentifier, at: started)
    }

    var pid: pid_t { process.processIdentifier }

    /// What gatherd wrote to stderr so far; once it has exited, all of it (the
    /// pipe is read on another queue, which may lag behind the exit).
    var stderr: String {
        if !process.isRunning {
            let deadline = ContinuousClock.now.advanced(by: .seconds(2))
            while !lock.withLock({ ended }), ContinuousClock.now < deadline { usleep(5_000) }
        }
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: collected, as: UTF8.self)
    }

    func kill(_ signal: Int32) { Glibc.kill(process.processIdentifier, signal) }

    /// Waits for the exit; returns the exit status, or nil after `limit`.
    func wait(limit: Duration) -> Int32? {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            usleep(10_000)
        }
        return process.terminationStatus
    }

    /// Waits until `condition` holds (polled), at most `limit`.
    static func waitUntil(limit: Duration = .seconds(20), _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while !condition() {
            if ContinuousClock.now >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    deinit {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        errorPipe.fileHandleForReading.readabilityHandler = nil
    }
}

/// Whether a process is gone: no longer exists, or is a zombie.
func processIsGone(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    guard let close = stat.lastIndex(of: ")") else { return true }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.first == "Z"
}

/// When each daemon this test process started began, by PID: a journal query
/// by `_PID` alone would also find the entries of an earlier daemon (another
/// suite's) that had the same PID, as PIDs are reused (`pid_max` is 32,768 here).
enum DaemonStarts {
    private static let starts = Mutex<[pid_t: UInt64]>([:])

    /// Microseconds since the epoch, as journald's `__REALTIME_TIMESTAMP`.
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1_000
    }

    static func record(pid: pid_t, at start: UInt64) {
        starts.withLock { $0[pid] = start }
    }

    /// `entries` less those written before the latest daemon with `pid` started.
    static func sinceStart(of pid: pid_t, _ entries: [ReadBackEntry]) -> [ReadBackEntry] {
        guard let start = starts.withLock({ $0[pid] }) else { return entries }
        return entries.filter { entry in
            guard let stamp = entry["__REALTIME_TIMESTAMP"].flatMap(UInt64.init) else { return true }
            return stamp >= start
        }
    }
}
