@testable import GatherProcess
import GatherSystem
import GatherTestSupport
import Glibc
import Testing

/// The launcher with a cgroup per process (SPEC §11): the child starts inside
/// it, by `clone3` with `CLONE_INTO_CGROUP` and by the path of older kernels
/// (the child moves itself); a stop reaches what left the process group; a
/// cgroup that cannot be entered is a spawn failure naming it.
@Suite("Launcher: cgroups", .serialized, .timeLimit(.minutes(1)))
struct CgroupLauncherTests {
    /// The child's own `0::` line of /proc/self/cgroup, as it prints it.
    static let whereAmI = ["/bin/sh", "-c", "grep ^0:: /proc/self/cgroup"]

    /// The cgroup's path as /proc/PID/cgroup writes it (relative to the cgroup2 mount).
    static func relative(_ path: String) -> String {
        "0::" + path.dropFirst(TestCgroup.mount!.count)
    }

    @Test("the child starts inside its cgroup, through clone3 and through the older kernels' path",
          arguments: [true, false])
    func startsInside(cloneIntoCgroup: Bool) async throws {
        guard let test = TestCgroup.make("launch") else { return }
        let task = try Cgroup.open(test.path).makeChild("task-where")
        let saved = ProcessLauncher.clonesIntoCgroup
        ProcessLauncher.clonesIntoCgroup = cloneIntoCgroup
        defer { ProcessLauncher.clonesIntoCgroup = saved }
        let result = try await Support.run(Self.whereAmI, cgroup: task)
        // The path asked for is the path taken (this kernel has clone3 into a cgroup).
        #expect(ProcessLauncher.clonesIntoCgroup == cloneIntoCgroup)
        #expect(result.status == .exited(0))
        #expect(result.out == [Self.relative(task.path)], "\(result.out) \(result.err)")
        #expect(!task.isPopulated)
        #expect((task.usage().cpuUsec ?? 0) > 0)
        #expect(task.remove() == nil)
    }

    @Test("what leaves the process group is stopped after the exit, and the wait ends when the cgroup is empty")
    func stopRemainingReachesEscapees() async throws {
        guard let test = TestCgroup.make("escape") else { return }
        let task = try Cgroup.open(test.path).makeChild("task-escape")
        // A session of its own that ignores SIGTERM: only cgroup.kill ends it.
        // (its sleep lets go of the pipes, so the output ends with the main process).
        let script = #"setsid sh -c 'trap "" TERM; echo $$; exec sleep 300 >/dev/null 2>&1' & sleep 0.2"#
        let result = try await Support.run(["/bin/sh", "-c", script], cgroup: task)
        let escapee = try #require(result.out.first.flatMap { pid_t($0) }, "\(result.out)")
        #expect(kill(escapee, 0) == 0, "the escapee should outlive its task's main process")
        #expect(task.isPopulated)
        let began = ContinuousClock.now
        await result.process.stopRemaining(grace: .milliseconds(300))
        let took = began.duration(to: .now)
        #expect(!task.isPopulated)
        #expect(took >= .milliseconds(250), "the grace was cut short: \(took)")
        #expect(took < .milliseconds(1300), "the empty cgroup was seen late: \(took)")
        #expect(task.remove() == nil)
    }

    @Test("a cgroup that cannot be entered is spawn-failed, naming it")
    func deadCgroup() throws {
        guard let test = TestCgroup.make("dead") else { return }
        let task = try Cgroup.open(test.path).makeChild("task-gone")
        #expect(task.remove() == nil)  // the descriptor stays open on a removed cgroup
        for cloneIntoCgroup in [true, false] {
            let saved = ProcessLauncher.clonesIntoCgroup
            ProcessLauncher.clonesIntoCgroup = cloneIntoCgroup
            defer { ProcessLauncher.clonesIntoCgroup = saved }
            #expect {
                _ = try Support.launcher.spawn(ProcessSpec(command: ["/bin/true"], environment: Support.path, cgroup: task))
            } throws: { error in
                guard let error = error as? SpawnError else { return false }
                return error.code == .cgroup && error.description.hasSuffix("(cgroup \(task.path))")
            }
        }
    }
}
