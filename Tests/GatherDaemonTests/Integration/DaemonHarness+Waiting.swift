import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every end-to-end suite of the real daemon is nested in this one, so they
/// run one test at a time: each test starts a daemon and its processes, and
/// several at once on two cores push the other targets' timing bounds over.
@Suite("gatherd end to end", .serialized)
enum GatherdEndToEnd {}

// Waiting without holding a thread. All test targets run in one process whose
// cooperative pool has one thread per core (two here): a test that blocks a
// thread for seconds while a daemon works slows every other suite's async
// tests, and their time bounds fail. These waits suspend instead.

extension RunningDaemon {
    /// Waits for the exit, suspended between checks; the exit status, or nil after `limit`.
    func wait(limit: Duration) async -> Int32? {
        guard await Self.waitUntil(limit: limit, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    /// Polls `condition` every 10 ms, suspended between checks, at most `limit`.
    static func waitUntil(limit: Duration = .seconds(20), _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while try !condition() {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}

extension DaemonHarness {
    /// Runs gatherd with `--exit-when-idle` until it exits (at most `limit`).
    @discardableResult
    func runUntilIdle(
        _ arguments: [String] = [], limit: Duration = .seconds(60), extraEnvironment: [String: String] = [:]
    ) async throws -> RunningDaemon {
        let daemon = try start(["--exit-when-idle"] + arguments, extraEnvironment: extraEnvironment)
        guard await daemon.wait(limit: limit) != nil else {
            daemon.kill(SIGKILL)
            throw FixtureError(what: "gatherd --exit-when-idle", output: "still running after \(limit)\n\(daemon.stderr)")
        }
        return daemon
    }

    /// Waits until `daemon` logged "gatherd ready" (its first scan is done), at most `limit`.
    func waitUntilReady(_ daemon: RunningDaemon, limit: Duration = .seconds(20)) async throws -> Bool {
        try await RunningDaemon.waitUntil(limit: limit) {
            try entries(fromDaemon: daemon.pid).contains { $0["MESSAGE_ID"] == "08982e59b9f0491b9db5d3506543a0f5" }
        }
    }

    /// Polls the journal entries of job `id` until one satisfies `condition`
    /// (at most `limit`), for events that happen while the daemon runs.
    func waitForEntry(
        of id: String, limit: Duration = .seconds(20), where condition: (ReadBackEntry) -> Bool
    ) async throws -> ReadBackEntry? {
        var found: ReadBackEntry?
        _ = try await RunningDaemon.waitUntil(limit: limit) {
            found = try journal(id).first(where: condition)
            return found != nil
        }
        return found
    }

    /// Waits until `path` holds a whole line with a pid (a task wrote it), at most `limit`.
    func waitForPID(in path: String, limit: Duration = .seconds(20)) async -> pid_t? {
        var pid: pid_t?
        _ = await RunningDaemon.waitUntil(limit: limit) {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            guard text.hasSuffix("\n") else { return false }
            pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
            return pid != nil
        }
        return pid
    }

    /// Waits until job `id` has a finished directory (`done`, `failed`, `rejected`).
    func waitForRecord(_ id: String, limit: Duration = .seconds(30)) async -> Bool {
        await RunningDaemon.waitUntil(limit: limit) {
            guard let area = area(of: id) else { return false }
            return area != "active"
        }
    }
}
