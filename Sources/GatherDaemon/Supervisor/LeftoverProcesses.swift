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

    /// A job cgroup a previous run left (SPEC §11), with its job's grace.
    struct Cgroup: Sendable {
        let cgroup: GatherSystem.Cgroup
        let grace: Duration
    }

    /// How long past its `cgroup.kill` a leftover cgroup may take to empty.
    static let cgroupDrainLimit = Duration.seconds(5)

    /// SIGTERM to every group and every process of every cgroup at once;
    /// SIGKILL to each group, `cgroup.kill` to each cgroup, still there once
    /// its own job's grace has passed. Every job's leftovers are stopped
    /// together, so the whole wait is the longest grace, not one per job.
    ///
    /// Blocks the calling thread (it runs once, at start-up, before the
    /// daemon is ready): these are not our children, so no pidfd or
    /// `waitpid` tells when they are gone, and they are looked at every 20 ms.
    static func kill(_ groups: [Group], cgroups: [Cgroup] = []) {
        var live = groups.filter { ProcStat.startTime(of: $0.group.pgid) == $0.group.startTime }
        var liveCgroups = cgroups.filter { $0.cgroup.isPopulated }
        guard !live.isEmpty || !liveCgroups.isEmpty else { return }
        for entry in live { _ = Glibc.kill(-entry.group.pgid, SIGTERM) }
        for entry in liveCgroups { entry.cgroup.signalSubtree(SIGTERM) }
        let clock = ContinuousClock()
        let began = clock.now
        while !live.isEmpty || !liveCgroups.isEmpty {
            live.removeAll { Glibc.kill(-$0.group.pgid, 0) != 0 }
            liveCgroups.removeAll { !$0.cgroup.isPopulated }
            let now = clock.now
            for entry in live where began.advanced(by: entry.grace) <= now {
                _ = Glibc.kill(-entry.group.pgid, SIGKILL)
            }
            live.removeAll { began.advanced(by: $0.grace) <= now }
            for entry in liveCgroups where began.advanced(by: entry.grace) <= now {
                entry.cgroup.kill()
            }
            liveCgroups.removeAll { began.advanced(by: $0.grace + cgroupDrainLimit) <= now }
            if !live.isEmpty || !liveCgroups.isEmpty { usleep(20_000) }
        }
    }
}
