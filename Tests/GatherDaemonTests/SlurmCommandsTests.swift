import Foundation
import GatherProcess
import GatherTestSupport
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import GatherDaemon

/// The limit on one run of a Slurm client program (`squeue`, `scancel`):
/// it holds also when the calling task is cancelled, as an attempt that is
/// being stopped is. Real child processes; no cluster needed.
@Suite struct SlurmCommandsTests {
    private func commands() throws -> SlurmCommands {
        SlurmCommands(launcher: try ProcessLauncher.shared, path: "/usr/bin:/bin")
    }

    @Test func aProgramThatEndsInTimeGivesItsStatusAndOutput() async throws {
        let result = try await commands().run(["/bin/sh", "-c", "echo out; echo err >&2"], limit: .seconds(10))
        #expect(result.status == .exited(0))
        #expect(result.stdout == ["out"] && result.stderr == ["err"])
    }

    @Test func aProgramPastTheLimitIsStoppedAndGivesNoStatus() async throws {
        let began = ContinuousClock.now
        let result = try await commands().run(["/bin/sleep", "30"], limit: .milliseconds(300))
        let took = began.duration(to: .now)
        #expect(result.status == nil && result.problem == "no answer within the limit")
        // Well under the program's 30 s: the limit fired. Generous, for a
        // loaded machine (in CI, with the whole suite starting, 4.7 s was seen:
        // the limit, then the 1 s terminate grace and the output's end).
        #expect(took >= .milliseconds(300) && took < .seconds(15), "\(took)")
    }

    /// An attempt's `ended()` runs `scancel` inside a cancelled task (a
    /// timeout, a cancel request, a daemon stop): the limit must still fire.
    @Test func theLimitHoldsInACancelledTask() async throws {
        let commands = try commands()
        let began = ContinuousClock.now
        let run = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            #expect(Task.isCancelled)
            return await commands.run(["/bin/sleep", "30"], limit: .milliseconds(300))
        }
        let result = await run.value
        let took = began.duration(to: .now)
        #expect(result.status == nil, "\(String(describing: result.status))")
        // Well under the program's 30 s: the limit fired. Generous, for a
        // loaded machine (in CI, with the whole suite starting, 4.7 s was seen:
        // the limit, then the 1 s terminate grace and the output's end).
        #expect(took >= .milliseconds(300) && took < .seconds(15), "\(took)")
    }

    /// Runs `body` on a thread of its own, as the supervisor's thread runs
    /// the blocking calls (one on a pool thread could starve the pool).
    private func onOwnThread(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread {
                body()
                done.resume()
            }.start()
        }
    }

    /// A directory with stand-in Slurm tools; `scancel` runs `scancel`'s body.
    private func standInTools(scancel: String) throws -> String {
        let bin = FileManager.default.temporaryDirectory.path + "/gather-slurm-tools-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for (tool, body) in [("srun", "exit 0"), ("squeue", "exit 0"), ("scontrol", "exit 0"), ("scancel", scancel)] {
            try Executable.write("#!/bin/sh\n\(body)\n", to: "\(bin)/\(tool)")
        }
        return bin
    }

    /// `scancel` exits 0 for a job that already ended: a non-zero exit is
    /// reported, with whose jobs, their IDs and scancel's words.
    @Test func aFailedScancelIsReportedWithTheIDs() async throws {
        let bin = try standInTools(scancel: "echo \"scancel: error: Kill job error on job id $1: Access/permission denied\" >&2; exit 1")
        defer { try? FileManager.default.removeItem(atPath: bin) }
        let warnings = Mutex<[String]>([])
        let slurm = Slurm(launcher: try ProcessLauncher.shared, path: bin) { line in warnings.withLock { $0.append(line) } }
        await slurm.cancel([41], whose: "job nightly: task dump")
        await onOwnThread { slurm.cancelBlocking([41, 42], whose: "a previous run") }
        #expect(warnings.withLock { $0 } == [
            "job nightly: task dump: cannot cancel Slurm job 41 (scancel: error: Kill job error on job id 41: Access/permission denied)",
            "a previous run: cannot cancel Slurm jobs 41 42 (scancel: error: Kill job error on job id 41: Access/permission denied)",
        ])
    }

    @Test func aScancelThatSucceedsIsNotReported() async throws {
        let bin = try standInTools(scancel: "exit 0")
        defer { try? FileManager.default.removeItem(atPath: bin) }
        let warnings = Mutex<[String]>([])
        let slurm = Slurm(launcher: try ProcessLauncher.shared, path: bin) { line in warnings.withLock { $0.append(line) } }
        await slurm.cancel([41], whose: "job nightly: task dump")
        await onOwnThread { slurm.cancelBlocking([41], whose: "a previous run") }
        #expect(warnings.withLock { $0 }.isEmpty)
    }
}
