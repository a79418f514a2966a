import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every suite that runs the real daemon is nested in this one, so they run
/// one test at a time: a daemon and its tasks per test, several at once on
/// two cores, would push other targets' timing bounds over.
@Suite("gatherctl against gatherd", .serialized)
enum GatherctlEndToEnd {}

/// A temporary spool with the real `gatherctl` (and, when asked, the real
/// `gatherd`) pointed at it. Job IDs get a per-harness prefix because every
/// test shares one journal.
final class CtlHarness: @unchecked Sendable {
    let spool: String
    let prefix: String
    /// A folder for the job files the tests write (outside the spool).
    let files: String
    /// The daemon's own cgroup subtree (`--cgroup PATH`; `off` where none can be made).
    let cgroup: TestCgroup?

    init(_ name: String) throws {
        prefix = "\(name)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        cgroup = TestCgroup.make("ctl-" + name, quiet: true)
        spool = NSTemporaryDirectory() + "gatherctl-it-" + prefix
        files = spool + "-files"
        // incoming/ and cancel/ as the daemon (or the tmpfiles entry) leaves them.
        for area in ["incoming", "cancel"] {
            try FileManager.default.createDirectory(atPath: "\(spool)/\(area)", withIntermediateDirectories: true)
            chmod("\(spool)/\(area)", 0o700)
        }
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: spool)
        try? FileManager.default.removeItem(atPath: files)
    }

    static var gatherctl: String { Run.buildProductsDirectory + "/gatherctl" }
    static var gatherd: String { Run.buildProductsDirectory + "/gatherd" }

    /// A job ID unique to this harness.
    func id(_ name: String) -> String { "\(prefix)-\(name)" }

    /// Writes a job file `NAME` into the files folder and returns its path.
    @discardableResult
    func file(_ name: String, _ json: String) throws -> String {
        let path = "\(files)/\(name)"
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Runs `gatherctl --spool SPOOL ARGS…` to its end.
    func ctl(_ arguments: [String]) async throws -> Run.Result {
        let argv = [Self.gatherctl, "--spool", spool] + arguments
        return try await Blocking.run { try Run.command(argv) }
    }

    /// Runs any command to its end, off the cooperative pool.
    static func run(_ argv: [String], environment: [String: String] = [:]) async throws -> Run.Result {
        try await Blocking.run { try Run.command(argv, environment: environment) }
    }

    /// Starts `gatherctl --spool SPOOL ARGS…` and returns at once.
    func startCtl(_ arguments: [String]) throws -> RunningCommand {
        try RunningCommand(Self.gatherctl, ["--spool", spool] + arguments)
    }

    /// Starts gatherd on the spool, logging to the journal, and returns once
    /// it sent `READY=1` (its watch is in place); stop it with ``RunningCommand/stop()``.
    func startDaemon(_ arguments: [String] = []) async throws -> RunningCommand {
        let notify = try NotifyReceiver()
        let cgroupArguments = arguments.contains("--cgroup") ? [] : ["--cgroup", cgroup?.path ?? "off"]
        let daemon = try RunningCommand(Self.gatherd, ["--spool", spool, "--log-target", "journal"] + cgroupArguments + arguments,
                                        environment: ["NOTIFY_SOCKET": notify.path])
        let ready = await Blocking.run { () -> Bool in
            let deadline = ContinuousClock.now.advanced(by: .seconds(20))
            while ContinuousClock.now < deadline {
                if let message = notify.receive(timeout: .milliseconds(500)), message.contains(where: { $0.name == "READY" }) {
                    return true
                }
            }
            return false
        }
        guard ready else {
            daemon.stop()
            throw FixtureError(what: "gatherd start", output: "no READY=1; stderr: \(daemon.stderr)")
        }
        return daemon
    }

    /// Names in a spool area, dotfiles included.
    func names(_ area: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(spool)/\(area)")) ?? []).sorted()
    }

    /// The spool area holding job `id`, if any.
    func area(of id: String) -> String? {
        ["done", "failed", "rejected", "active"].first { FileManager.default.fileExists(atPath: "\(spool)/\($0)/\(id)") }
    }

    /// A finished job's `result.json`, as JSON.
    func record(_ id: String) throws -> [String: Any] {
        guard let area = area(of: id), area != "active" else {
            throw FixtureError(what: "record of \(id)", output: "not finished")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(spool)/\(area)/\(id)/result.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }
}

/// A process started by a test, its stdout and stderr collected as they come.
final class RunningCommand: @unchecked Sendable {
    let process = Process()
    private let outPipe = Pipe()
    private let errPipe = Pipe()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    /// Starts `binary`; `environment` is added to this process's (less `NOTIFY_SOCKET`).
    init(_ binary: String, _ arguments: [String], environment extra: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        process.environment = environment.merging(extra) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outPipe
        process.standardError = errPipe
        outPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.out.append(data) }
        }
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.err.append(data) }
        }
        try process.run()
    }

    var stdout: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
    var stderr: String { lock.withLock { String(decoding: err, as: UTF8.self) } }

    /// Waits for the exit; the exit status, or nil after `limit`.
    func wait(limit: Duration = .seconds(30)) async -> Int32? {
        guard await Self.waitUntil(limit: limit, { !self.process.isRunning }) else { return nil }
        // Let the pipe handlers take what was written just before the exit.
        try? await Task.sleep(for: .milliseconds(50))
        return process.terminationStatus
    }

    /// SIGTERM now, SIGKILL 20 s later if it is still there. Does not wait,
    /// so it can run in a `defer`.
    func stop() {
        guard process.isRunning else { return }
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        let process = self.process
        Thread.detachNewThread {
            let deadline = ContinuousClock.now.advanced(by: .seconds(20))
            while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(pid, SIGKILL) }
        }
    }

    /// Polls `condition` every 10 ms, at most `limit`.
    static func waitUntil(limit: Duration = .seconds(20), _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while await !condition() {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        outPipe.fileHandleForReading.readabilityHandler = nil
        errPipe.fileHandleForReading.readabilityHandler = nil
    }
}

/// Blocking work (running a command to its end, waiting on a socket) on a
/// thread of its own: blocking a thread of Swift's cooperative pool (two on a
/// two-core machine) would stall every other test running at the same time.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }
}
