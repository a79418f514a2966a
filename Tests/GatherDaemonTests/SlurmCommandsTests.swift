import GatherProcess
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
        #expect(took >= .milliseconds(300) && took < .seconds(3), "\(took)")
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
        #expect(took >= .milliseconds(300) && took < .seconds(3), "\(took)")
    }
}
