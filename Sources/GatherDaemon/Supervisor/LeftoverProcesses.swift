import GatherSystem
import GatherSpool
#if canImport(Glibc)
import Glibc
#endif

/// Stops the process groups a crashed daemon left behind (SPEC §3 recovery).
///
/// Recovery reports only groups recorded in this boot whose leader still has
/// the recorded start time; the start time is checked once more right before
/// each signal, so a reused PID is never signalled.
enum LeftoverProcesses {
    /// SIGTERM to every group, SIGKILL to those still there after `grace`.
    static func kill(_ groups: [JobStateFile.ProcessGroup], grace: Duration) {
        let live = groups.filter { ProcStat.startTime(of: $0.pgid) == $0.startTime }
        guard !live.isEmpty else { return }
        for group in live { _ = Glibc.kill(-group.pgid, SIGTERM) }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: grace)
        // A one-off wait at start-up: these are not our children, so no pidfd or
        // waitpid tells us when they are gone; poll their groups briefly.
        while clock.now < deadline, live.contains(where: { Glibc.kill(-$0.pgid, 0) == 0 }) {
            usleep(20_000)
        }
        for group in live where Glibc.kill(-group.pgid, 0) == 0 { _ = Glibc.kill(-group.pgid, SIGKILL) }
    }
}
