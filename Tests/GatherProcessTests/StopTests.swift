import GatherProcess
import Glibc
import Testing

@Suite("Stopping: group SIGTERM, SIGKILL after the grace", .timeLimit(.minutes(1)))
struct StopTests {
    @Test("terminate ends a sleeping task with SIGTERM")
    func terminate() async throws {
        let process = try Support.launcher.spawn(ProcessSpec(command: ["/bin/sleep", "30"], environment: Support.path))
        process.terminate(grace: .seconds(5))
        #expect(await process.exitStatus() == .signaled(SIGTERM))
    }

    @Test("a child that ignores SIGTERM is SIGKILLed after the grace")
    func ignoresTerm() async throws {
        let lines = LineCollector()
        let process = try Support.launcher.spawn(
            ProcessSpec(command: ["/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"], environment: Support.path),
            output: lines.handler)
        while lines.lines(.stdout).isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        let begin = ContinuousClock.now
        process.terminate(grace: .milliseconds(300))
        let status = await process.exitStatus()
        let took = begin.duration(to: .now)
        #expect(status == .signaled(SIGKILL))
        #expect(took >= .milliseconds(300), "not before the grace")
        // Without the SIGKILL it would never end; the margin is for a loaded
        // machine, where resuming this task once the process is reaped can lag
        // (3.7 s seen once on two cores with every suite starting at once).
        #expect(took < .seconds(10), "soon after the grace")
        await process.stopRemaining(grace: .milliseconds(300))
    }

    @Test("a grandchild left in the group is gone once its task ended")
    func grandchildAfterExit() async throws {
        // The grandchild ignores SIGTERM, so only the SIGKILL after the grace ends it.
        let lines = LineCollector()
        let process = try Support.launcher.spawn(
            ProcessSpec(command: ["/bin/sh", "-c", "(trap '' TERM; exec sleep 30) & echo $!; exit 0"], environment: Support.path),
            output: lines.handler)
        #expect(await process.exitStatus() == .exited(0))
        let begin = ContinuousClock.now
        await process.stopRemaining(grace: .milliseconds(200))
        // The grandchild held stdout open; with it gone the pipe ends.
        await process.outputFinished(within: .seconds(5))
        let grandchild = try #require(lines.lines(.stdout).first.flatMap { Int32($0) })
        #expect(await Support.waitGone(grandchild, within: .seconds(2)), "grandchild \(grandchild) still runs")
        let took = begin.duration(to: .now)
        #expect(took >= .milliseconds(200), "SIGTERM alone did not end it")
        #expect(took < .seconds(10), "the SIGKILL after the grace did not come")
    }

    @Test("an empty group costs no wait")
    func emptyGroup() async throws {
        let result = try await Support.run(["/bin/true"])
        #expect(!result.process.groupExists)
        let begin = ContinuousClock.now
        await result.process.stopRemaining(grace: .seconds(5))
        // Far below the 5 s grace it would wait for a group that still had members
        // (a margin for a loaded machine).
        #expect(begin.duration(to: .now) < .milliseconds(2_500))
    }
}
