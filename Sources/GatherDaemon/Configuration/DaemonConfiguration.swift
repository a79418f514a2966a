import Gather
import GatherJournal
import GatherSpool
import GatherSystem

/// Everything `gatherd` is told on its command line (SPEC §9), with the
/// SPEC's defaults; ``GatherdCommand`` reads it from the arguments.
public struct DaemonConfiguration: Sendable, Equatable {
    /// The spool directory (`--spool`, else `$GATHER_SPOOL`, else `/var/spool/gatherd`).
    public var spool: String = "/var/spool/gatherd"
    /// Jobs running at once (`--max-jobs`).
    public var maxJobs = 16
    /// Tasks of all jobs running at once, shared round-robin (`--max-tasks`).
    public var maxTasks = 512
    /// Jobs of one user running at once (`--max-jobs-per-user`).
    public var maxJobsPerUser = 4
    /// Files of one user waiting or running; more are rejected (`--max-queued-per-user`).
    public var maxQueuedPerUser = 10_000
    /// Default SIGTERM → SIGKILL grace (`--kill-grace`).
    public var killGrace: Duration = JobFile.defaultKillGrace
    /// Age after which finished job directories are deleted; `nil` keeps them (`--retain 0`).
    public var retain: Duration? = .seconds(30 * 86_400)
    /// Where journal events go (`--log-target`, SPEC §7): the journal writer's own setting.
    public var logTarget: LogTarget = .auto
    /// Log successful task ends too (`--log-level debug`).
    public var debug = false
    /// Exit 0 once nothing is claimable, queued or running (`--exit-when-idle`).
    public var exitWhenIdle = false
    /// Where jobs' cgroups go (`--cgroup auto|off|PATH`, SPEC §11).
    public var cgroup: CgroupSetting = .auto
    /// Where the Prometheus text is kept (`--metrics-file`); nil: no metrics.
    public var metricsFile: String?
    /// The administrator's hook for every `failed` job (`--on-failure`, SPEC §9):
    /// run through `/bin/sh -c` as the daemon's user; nil: none.
    public var onFailure: String?

    public init() {}
}
