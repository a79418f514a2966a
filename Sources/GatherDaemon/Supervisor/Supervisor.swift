import Gather
import GatherJournal
import GatherProcess
import GatherSpool
import GatherSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A job the supervisor wants run; the daemon's main loop runs it in a child
/// task of its group and reports the end back with ``Supervisor/jobEnded(_:_:)``.
struct JobStart: QueueEntry {
    let job: ClaimedJob
    let settings: JobSettings
    let identity: JobIdentity
    let control: GatherControl
    let progress: JobProgress
    /// When its file was seen (``AdmittedJob/seen``).
    let seen: ContinuousClock.Instant?
    /// Opened once the job's record is in its final place: its hooks may run (``JobHooks``).
    let recordMoved = RecordGate()

    var id: String { job.id }
    var uid: UInt32 { job.state.uid }
}

/// What the supervisor hands the daemon's main group to run.
enum DaemonWork: Sendable {
    /// A job's run, then its hooks.
    case job(JobStart)
    /// Only the hooks of a job that recovery recorded `interrupted` after a
    /// crash: `on_end` runs for every record, and that record is new.
    case hooks(RecoveredHooks)
}

/// The hooks of a job recovery recorded: run once its record is in place.
struct RecoveredHooks: Sendable {
    let record: JobRecord
    let job: ClaimedJob
    let identity: JobIdentity
    let killGrace: Duration
    let recordMoved = RecordGate()
}

/// Owns every job (SPEC §3, §9): claims files, keeps the queue in arrival
/// order, starts jobs within `--max-jobs` and the per-user limits (``JobQueue``),
/// handles cancel requests, writes records (pausing claims on a spool write
/// error), keeps `STATUS=` current and sends the watchdog pings itself, so a
/// stuck actor is caught by systemd.
///
/// Its parts live in `Supervisor+*.swift` by topic; the stored state below is
/// touched only by those files (Swift has no access level for "this type's
/// files").
///
/// Where blocking I/O runs: the actor has a thread of its own
/// (`gatherd-supervisor`, a ``ThreadExecutor``), and the spool's blocking
/// calls it makes (claims with their fsyncs, passwd look-ups, records,
/// recovery, retention, scans) run there, never on the cooperative pool that
/// the jobs' tasks share. docs/ARCHITECTURE.md lists what runs where.
actor Supervisor {
    /// The supervisor's life. Only the transitions below happen; any other is
    /// a `fatalError` with a message.
    ///
    ///     starting ──ready──▶ running ──SIGTERM──▶ stopping ──last job ended──▶ stopped
    ///         └──────────────────────────(exit when idle)──────────────────────▲
    enum State {
        /// Recovering and scanning; not ready yet.
        case starting
        /// Ready: claiming (unless a spool write error paused it) and starting jobs.
        case running
        /// SIGTERM/SIGINT: no claims, running jobs cancelled, waiting for them.
        case stopping
        /// Every job has ended; the main loop has been told.
        case stopped
    }

    var state = State.starting
    /// Waiting and running jobs, and the limits that decide when one starts.
    var jobs: JobQueue<AdmittedJob, JobStart>
    /// Cancel requests for jobs still waiting in `incoming/`.
    var pendingCancels: Set<String> = []
    /// Records that could not be written (SPEC §3: retried every 10 s).
    var unwritten: [String: (record: JobRecord, identity: JobIdentity)] = [:]
    /// Running jobs whose `state.json` could not be written: retried with the records.
    var unwrittenProgress: Set<String> = []
    /// Set while a spool write fails: no claims until it works again.
    var writeError: String?
    /// Set while the spool's `paused` file exists (SPEC §3): no claims.
    var claimsPaused = false
    /// The last `STATUS=` line sent.
    var lastStatus: String?
    /// Final states so far, for `STATUS=`.
    var counts = StateCounts()
    /// What this turn wrote; durable with one commit at its end (``endTurn()``).
    var turn = Turn()
    /// Started jobs whose commit failed: they run once a sync succeeds.
    var heldStarts: [JobStart] = []
    /// When the files claimed in this turn were seen: the first post of the
    /// inbox's batch, or the scan's start (for the claim latency metric).
    var seenAt = ContinuousClock.now
    /// When each file that arrived while claiming was paused was first seen,
    /// so its claim latency holds the pause (cleared by the resume's scan,
    /// which claims them all; a file removed meanwhile is forgotten there).
    var seenWhilePaused: [SpoolEntryName: ContinuousClock.Instant] = [:]
    /// What `--metrics-file` publishes; set at the end of each turn (``updateStatus()``).
    let metrics: Metrics
    /// The gates of ended jobs whose hooks wait for their record's move, by job ID.
    var recordGates: [String: RecordGate] = [:]
    /// Ended jobs whose hooks have not ended yet (`--exit-when-idle` waits for them).
    var hooksPending = 0

    /// Spool events posted by the watcher's consumer and not handled yet
    /// (``post(_:)``): those that arrive while the actor is busy are handled
    /// together, in one turn with one commit.
    let inbox = Mutex(Inbox())
    /// Wakes the inbox's reader (``handleInbox()``); at most one wake-up is kept.
    let inboxWakeups: AsyncStream<Void>
    let inboxWakeup: AsyncStream<Void>.Continuation
    /// Wakes the status loop when the first job starts (``busyWakeups``).
    let busyWakeups: AsyncStream<Void>
    let busyWakeup: AsyncStream<Void>.Continuation
    /// Wakes the maintenance loop when a spool write fails.
    let retryWakeups: AsyncStream<Void>
    let retryWakeup: AsyncStream<Void>.Continuation

    let spool: SpoolDirectory
    let journal: JournalWriter
    let notifier: SystemdNotifier
    let configuration: DaemonConfiguration
    let starts: AsyncStream<DaemonWork>.Continuation
    let executor: ThreadExecutor
    /// gatherd's cgroup subtree, or why it has none (SPEC §11).
    let cgroups: CgroupAvailability
    /// `executor: slurm` (SPEC §12): the probe at claims, `scancel` at recovery; nil: every such job is rejected.
    let slurm: Slurm?

    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    init(
        spool: SpoolDirectory, journal: JournalWriter, notifier: SystemdNotifier,
        configuration: DaemonConfiguration, starts: AsyncStream<DaemonWork>.Continuation,
        executor: ThreadExecutor, cgroups: CgroupAvailability = .off(reason: "--cgroup off"), metrics: Metrics = Metrics(),
        slurm: Slurm? = nil
    ) {
        self.slurm = slurm
        self.metrics = metrics
        self.cgroups = cgroups
        self.executor = executor
        self.spool = spool
        self.journal = journal
        self.notifier = notifier
        self.configuration = configuration
        self.starts = starts
        self.jobs = JobQueue(limits: .init(
            maxJobs: configuration.maxJobs, maxJobsPerUser: configuration.maxJobsPerUser,
            maxQueuedPerUser: configuration.maxQueuedPerUser))
        (inboxWakeups, inboxWakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (busyWakeups, busyWakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (retryWakeups, retryWakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// `incoming/`'s claimable names in arrival order, listed through the spool's descriptor.
    func scanIncoming() throws(EventSourceError) -> [SpoolEntryName] {
        try spool.withDescriptor(of: .incoming) { fd throws(EventSourceError) in
            try SpoolScan.incoming(fd, label: spool.path + "/incoming")
        }
    }

    /// `cancel/`'s request names, listed through the spool's descriptor.
    func scanCancelRequests() throws(EventSourceError) -> [SpoolEntryName] {
        try spool.withDescriptor(of: .cancel) { fd throws(EventSourceError) in
            try SpoolScan.cancelRequests(fd, label: spool.path + "/cancel")
        }
    }

    // MARK: Start-up

    /// Recovery of `active/` (SPEC §3). Returns how many jobs it found.
    ///
    /// With cgroups, every job cgroup present now is a previous run's: what is
    /// left in them is stopped with the recorded groups, and they are removed.
    func recover() -> Int {
        defer { endTurn() }
        return recoverActive(skipping: [], leftoverCgroups: cgroups.tree?.jobCgroups() ?? [])
    }

    /// Recovery of the jobs in `active/` but `known`; at start, and when
    /// claiming resumes after a spool write error, for a claim the error cut
    /// short (its file is in `active/` already, so no rescan would find it).
    func recoverActive(skipping known: Set<String>, leftoverCgroups: [(id: String, cgroup: Cgroup)] = []) -> Int {
        let report: RecoveryReport
        do {
            report = try spool.recover(skipping: known)
        } catch {
            // What the old job cgroups hold is stopped whatever the spool says.
            stopLeftovers([], cgroups: leftoverCgroups, graces: [:])
            claimFailed(error)
            return 0
        }
        for record in report.rejected { logRejected(record) }
        // Every job's leftovers at once: one grace in all, not one per job, so
        // many crashed jobs cannot hold the start past systemd's start timeout.
        // Each group (and job cgroup) is stopped after its own job's kill_grace.
        var leftovers: [LeftoverProcesses.Group] = []
        var graces: [String: Duration] = [:]
        var again: [AdmittedJob] = []
        var refused: [(job: ClaimedJob, reason: String)] = []
        for recovered in report.jobs {
            switch recovered {
            case .run(let job, let groups):
                let admitted = admitted(job)
                graces[job.id] = admitted.settings.killGrace
                leftovers += groups.map { LeftoverProcesses.Group(group: $0, grace: admitted.settings.killGrace) }
                // Limits this start cannot enforce (cgroups off now): rejected, never run unlimited.
                let refusals = limitRefusals(job.job) + slurmRefusals(job.job)
                if refusals.isEmpty { again.append(admitted) } else { refused.append((job, refusals.joined(separator: "; "))) }
            case .interrupt(let record, let groups, let grace, _):
                let settings = JobSettings(killGrace: grace, configuration: configuration)
                graces[record.id] = settings.killGrace
                leftovers += groups.map { LeftoverProcesses.Group(group: $0, grace: settings.killGrace) }
            }
        }
        cancelSlurmJobs(slurmJobsOfCrashedRuns(report))
        stopLeftovers(leftovers, cgroups: leftoverCgroups, graces: graces)
        // Admitted before the crash: queued again whatever the per-user limits.
        for job in again {
            jobs.readmit(job)
            takePendingCancel(job.id)
        }
        for (job, reason) in refused {
            do { logRejected(try spool.reject(job, reason: reason)) } catch { claimFailed(error) }
        }
        for recovered in report.jobs {
            switch recovered {
            case .run:
                break
            case .interrupt(let record, _, let grace, let job):
                let identity = JobIdentity(id: record.id, run: record.run, name: record.name, uid: record.uid)
                journal.log(.jobInterrupted(identity, policy: record.policy ?? .collectAll, reason: "daemon stopped while it ran"))
                if JobHooks.wanted(record, job: job.job, configuration: configuration) {
                    // Its `on_end` (and `--on-failure`: never, the state is
                    // not `failed`) once the record is in its final place.
                    let hooks = RecoveredHooks(
                        record: record, job: job, identity: identity,
                        killGrace: JobSettings(killGrace: grace, configuration: configuration).killGrace)
                    recordGates[record.id] = hooks.recordMoved
                    hooksPending += 1
                    starts.yield(.hooks(hooks))
                }
                write(record, identity: identity)
            }
        }
        return report.jobs.count
    }

    /// `scancel` of the Slurm jobs a crashed run started (SPEC §12), by the
    /// IDs its `state.json` and `state.log` kept, before its jobs are
    /// recorded or run again. The crashed run's `srun` processes are among
    /// the leftover process groups stopped next (if systemd did not SIGKILL
    /// them already: then only this `scancel` ends their Slurm jobs). A
    /// failed `scancel` is a warning in the journal, with the IDs.
    func cancelSlurmJobs(_ jobs: [String: [JobStateFile.SlurmJob]]) {
        let ids = jobs.values.flatMap { $0.map(\.id) }.sorted()
        guard !ids.isEmpty else { return }
        guard let slurm else {
            journal.log(.daemonNotice(
                Slurm.cancelFailure(ids, whose: "a previous run", problem: "no Slurm support in this gatherd"), warning: true))
            return
        }
        slurm.cancelBlocking(ids, whose: "a previous run")
    }

    /// Stops a crashed run's process groups and what its job cgroups hold
    /// (a job cgroup gets its job's grace; one whose job is no longer in
    /// `active/`, its record written but the cgroup not yet removed, the
    /// default), then removes those cgroups.
    func stopLeftovers(
        _ groups: [LeftoverProcesses.Group], cgroups: [(id: String, cgroup: Cgroup)], graces: [String: Duration]
    ) {
        let cgroupLeftovers = cgroups.map {
            LeftoverProcesses.Cgroup(cgroup: $0.cgroup, grace: graces[$0.id] ?? configuration.killGrace)
        }
        // Each job's own grace can be up to 5m: tell systemd, so a slow stop
        // of leftovers does not fail the start (TimeoutStartSec), as for a stop.
        if let longest = (groups.map(\.grace) + cgroupLeftovers.map(\.grace)).max() {
            _ = notifier.extendTimeout(longest + .seconds(10))
        }
        LeftoverProcesses.kill(groups, cgroups: cgroupLeftovers)
        for leftover in cgroupLeftovers {
            if let error = leftover.cgroup.removeTree() {
                journal.log(.daemonNotice("cannot remove the cgroup \(leftover.cgroup.path) a previous run left: \(error)", warning: true))
            }
        }
    }

    /// After the first scan: `READY=1` and the ready entry (SPEC §9).
    func ready(recovered: Int) {
        switch state {
        case .starting: break
        case .stopping, .stopped: return  // stopped before it was ready: nothing to scan or announce
        case .running: fatalError("Supervisor.ready: called twice")
        }
        state = .running
        // The first scan (the watch is already in place), then READY=1.
        rescan(checkingIdle: false)
        endTurn()
        journal.log(.daemonReady(spool: spool.path, recovered: recovered))
        _ = notifier.ready(status: statusLine)
        checkIdle()
    }

    // MARK: Events

    /// Takes a spool event from the watcher's consumer, or a job's end from
    /// the main loop; neither waits for the actor. What comes while it is busy
    /// (a burst of drops, jobs ending together) is handled in one turn, whose
    /// writes share one commit. Beyond ``inboxLimit`` spool events give way to
    /// one rescan, which finds them all (a job's end is always kept).
    nonisolated func post(_ event: SupervisorEvent) {
        let wake: Bool = inbox.withLock { inbox in
            if case .spool = event, inbox.events.count >= Self.inboxLimit {
                inbox.events.removeAll { if case .spool = $0 { return true } else { return false } }
                inbox.events.append(.spool(.rescan))
            } else {
                inbox.events.append(event)
            }
            if inbox.events.count == 1 { inbox.since = .now }
            return inbox.events.count == 1
        }
        if wake { inboxWakeup.yield() }
    }

    nonisolated func post(_ event: SpoolEvent) { post(.spool(event)) }

    /// Events kept for a busy supervisor; more spool events become one rescan.
    static let inboxLimit = 65_536

    /// Handles every event posted so far, in one turn.
    func handleInbox() {
        let (events, since) = inbox.withLock { inbox in
            defer { inbox.events = [] }
            return (inbox.events, inbox.since)
        }
        guard !events.isEmpty else { return }
        seenAt = since
        handle(events)
    }

    /// Handles events in order, then starts what may start; what they wrote
    /// is made durable once, before any of the jobs runs (``endTurn()``).
    func handle(_ events: [SupervisorEvent]) {
        // A file dropped while claiming is held changes no count; the metrics
        // writer must still look at incoming/ again.
        metrics.update { $0.spoolEvents &+= 1 }
        for event in events {
            switch event {
            case .spool(.incoming(let name, _)):
                claim(name)
            case .spool(.cancelRequest(let name)):
                cancelRequest(name)
            case .spool(.rescan):
                rescan(checkingIdle: false)
            case .spool(.pauseChanged):
                // Resumed: the files that waited are claimed now.
                if checkPause() == .resumed { rescan(checkingIdle: false) }
            case .jobEnded(let id, let end):
                jobEnded(id, end)
            case .hooksEnded:
                hooksPending -= 1
            }
        }
        if case .stopping = state {
            endTurn()
            if jobs.running.isEmpty { finishStopping() }
            updateStatus()
            return
        }
        startWaitingJobs()
        endTurn()
        checkIdle()
    }

    func handle(_ signal: DaemonSignal) {
        switch signal {
        case .terminate, .interrupt: shutdown()
        case .hangup: rescan()
        }
        endTurn()
    }

    /// A full scan of `incoming/` and `cancel/` (start, SIGHUP, queue overflow, resume).
    func rescan(checkingIdle: Bool = true) {
        seenAt = .now
        _ = checkPause()
        if let names = try? scanIncoming() {
            for name in names { claim(name, fromScan: true) }
        }
        if !claimsPaused { seenWhilePaused = [:] }
        if let names = try? scanCancelRequests() {
            for name in names { cancelRequest(name) }
        }
        startWaitingJobs()
        if checkingIdle { checkIdle() }
    }

    /// Sent from the actor itself, so a stuck actor misses its pings (SPEC §9).
    func watchdogPing() {
        _ = notifier.watchdogPing()
    }

    /// Retries unwritten records and progress (every 10 s while a spool write
    /// error lasts); deletes expired job directories (`--retain`, hourly).
    func maintain(retention: Bool) {
        retryUnwritten()
        if retention, let age = configuration.retain {
            _ = try? spool.removeExpired(olderThan: age)
        }
        endTurn()
        updateStatus()
    }

    /// Whether a spool write error holds claiming (the retry loop runs while it does).
    var isPaused: Bool { writeError != nil || !unwritten.isEmpty || !unwrittenProgress.isEmpty || !heldStarts.isEmpty }

    /// Whether a job runs (the status loop runs while one does).
    var isBusy: Bool { !jobs.running.isEmpty }
}

/// Final states so far (SPEC §9 `STATUS=`: `40 done, 3 failed, 1 rejected`).
struct StateCounts: Sendable {
    var done = 0
    var failed = 0
    var rejected = 0
    /// Each final state apart, for the metrics.
    var byState: [JobState: Int] = [:]
    /// When the last job ended `failed` (Unix time), for the metrics; 0: none yet.
    var lastFailure: Double = 0

    mutating func count(_ state: JobState) {
        byState[state, default: 0] += 1
        if state == .failed { lastFailure = Double(Timestamp.now().millisecondsSinceEpoch) / 1000 }
        switch state {
        case .succeeded: done += 1
        case .rejected: rejected += 1
        case .failed, .cancelled, .interrupted: failed += 1
        }
    }
}
