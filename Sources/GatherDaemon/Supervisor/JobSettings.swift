import GatherSpool

/// A job's settings as every step after the claim reads them: the job file's
/// values with the daemon's defaults resolved, once, when the supervisor takes
/// the job (claim or recovery). Later steps (the runner, a stop, recovery of
/// leftovers) read this value and never look at the defaults again.
struct JobSettings: Sendable, Equatable {
    /// SIGTERM → SIGKILL grace for every stop of this job's tasks: `kill_grace`, else `--kill-grace`.
    let killGrace: Duration

    /// - Parameters:
    ///   - killGrace: the job file's `kill_grace`, if it has one.
    ///   - configuration: the daemon's defaults.
    init(killGrace: Duration?, configuration: DaemonConfiguration) {
        self.killGrace = killGrace ?? configuration.killGrace
    }

    init(_ job: JobFile, configuration: DaemonConfiguration) {
        self.init(killGrace: job.killGrace, configuration: configuration)
    }
}

/// A claimed job with its resolved settings: what the supervisor queues and starts.
struct AdmittedJob: QueueEntry {
    var job: ClaimedJob
    let settings: JobSettings
    /// When its file was seen in `incoming/`, for the claim latency; nil for a
    /// job recovered from `active/`, whose file came before this start.
    var seen: ContinuousClock.Instant? = nil

    var id: String { job.id }
    var uid: UInt32 { job.state.uid }
}
