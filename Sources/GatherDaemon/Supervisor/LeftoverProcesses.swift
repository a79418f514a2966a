import GatherSpool
import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// Stops the process groups a crashed daemon left behind (SPEC §3 recovery).
///
/// Recovery reports only groups recorded in this boot whose leader still has
/// the recorded start time; the start time is checked once more right before
/// the SIGTERM round. SIGKILL then goes to the same group IDs within the
/// grace: a group ID stays taken while any member lives, so it cannot be reused meanwhile.
enum LeftoverProcesses {
    /// A group to stop, with the grace of the job it belonged to.
    struct Group: Sendable {
        let group: JobStateFile.ProcessGroup
        let grace: Duration
    }

    /// SIGTERM to every group at once; SIGKILL to each still there once its
    /// own job's grace has passed. Every job's leftovers are stopped together,
    /// so the whole wait is the longest grace, not one grace per job.
    ///
    /// Blocks the calling thread (it runs once, at start-up, before the
    /// daemon is ready): these are not our children, so no pidfd or
    /// `waitpid` tells when they are gone, and their groups are polled.
    static func kill(_ groups: [Group]) {
        var live = groups.filter { ProcStat.startTime(of: $0.group.pgid) == $0.group.startTime }
        guard !live.isEmpty else { return }
        for entry in live { _ = Glibc.kill(-entry.group.pgid, SIGTERM) }
        let clock = ContinuousClock()
        let began = clock.now
        while !live.isEmpty {
            live.removeAll { Glibc.kill(-$0.group.pgid, 0) != 0 }
            let now = clock.now
            for entry in live where began.advanced(by: entry.grace) <= now {
                _ = Glibc.kill(-entry.group.pgid, SIGKILL)
            }
            live.removeAll { began.advanced(by: $0.grace) <= now }
            if !live.isEmpty { usleep(20_000) }
        }
    }
}
