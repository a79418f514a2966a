import Gather
import GatherSystem

/// Who a job entry is about: the fields every job entry carries (SPEC §7).
public struct JobIdentity: Sendable, Hashable {
    /// The job ID (`GATHER_JOB`).
    public var id: String
    /// The record's `run`, 32 hex digits (`GATHER_RUN`).
    public var run: String
    /// The job's human name (`GATHER_JOB_NAME`).
    public var name: String
    /// The submitter's uid (`GATHER_UID`).
    public var uid: UInt32

    public init(id: String, run: String, name: String, uid: UInt32) {
        self.id = id
        self.run = run
        self.name = name
        self.uid = uid
    }

    /// How a MESSAGE names the job: its ID, which `gatherctl` and
    /// `journalctl GATHER_JOB=` take, followed by its name in parentheses when
    /// the two differ (`carol-bad (backup)`).
    public var label: String { name == id ? id : "\(id) (\(name))" }
}

/// The SPEC §7 events as entries: each constructor sets MESSAGE (the exact
/// SPEC text), MESSAGE_ID, PRIORITY, `SYSLOG_IDENTIFIER=gatherd` and the job
/// fields. Hand the result to ``JournalWriter/log(_:)``.
///
/// The end entries of a task or a job (task error, task succeeded, job
/// succeeded, failed, cancelled, interrupted) take the `usage` its cgroup
/// reported, carried as `GATHER_CPU_USEC` and `GATHER_MEMORY_PEAK` (each only
/// when known; neither without cgroups).
///
/// `GATHER_STATE` on entries of a job still running holds `running` (started)
/// or `failing` (first error), the words `gatherctl status` uses.
extension JournalEntry {
    /// Most `GATHER_FAILURE` fields in one entry: journald drops an entry with more than 1024 fields.
    public static let maxFailureFields = 500
    /// Most errors listed in the compound-error MESSAGE; the record keeps them all.
    public static let maxMessageErrors = 100
    /// Longest `GATHER_FAILURE` value in bytes; longer lines are cut (with `…`) so 500 of them stay small.
    public static let maxFailureBytes = 4096

    /// `job NAME started: 3 tasks, policy cancel-siblings` (priority 6).
    public static func jobStarted(_ job: JobIdentity, tasks: Int, policy: GatherPolicy) -> JournalEntry {
        var entry = event(.jobStarted, job: job,
                          "job \(job.label) started: \(tasks) task\(tasks == 1 ? "" : "s"), policy \(policy.rawValue)")
        entry.appendKnown("GATHER_STATE", "running")
        entry.appendKnown("GATHER_POLICY", policy.rawValue)
        return entry
    }

    /// `job NAME succeeded: 3 tasks in 4.2s` (priority 6).
    /// - Parameter usage: what the job's cgroup used, where gatherd has cgroups.
    /// - Parameter firstSuccess: under `first-success`, the task that
    ///   succeeded first and how many tasks were cancelled and skipped: the
    ///   message then reads `job mirrors succeeded: mirror-b succeeded first, 2 cancelled`.
    public static func jobSucceeded(_ job: JobIdentity, tasks: Int, policy: GatherPolicy, elapsed: Duration,
                                    usage: CgroupUsage? = nil,
                                    firstSuccess: (task: String, cancelled: Int, skipped: Int)? = nil) -> JournalEntry {
        let summary: String
        if let firstSuccess {
            var parts = ["\(firstSuccess.task) succeeded first"]
            if firstSuccess.cancelled > 0 { parts.append("\(firstSuccess.cancelled) cancelled") }
            if firstSuccess.skipped > 0 { parts.append("\(firstSuccess.skipped) skipped") }
            summary = parts.joined(separator: ", ")
        } else {
            summary = "\(tasks) task\(tasks == 1 ? "" : "s") in \(DurationText.format(elapsed))"
        }
        var entry = event(.jobSucceeded, job: job, "job \(job.label) succeeded: \(summary)")
        entry.appendKnown("GATHER_STATE", JobState.succeeded.rawValue)
        entry.appendKnown("GATHER_POLICY", policy.rawValue)
        appendUsage(&entry, usage)
        return entry
    }

    /// The compound-error entry (priority 3): `job NAME failed: CompoundError, …`.
    ///
    /// MESSAGE lists at most ``maxMessageErrors`` errors (`; … and N more]`);
    /// one `GATHER_FAILURE` per error up to ``maxFailureFields``, then
    /// `GATHER_FAILURES_OMITTED=N`; `GATHER_ERROR_COUNT` counts them all.
    /// - Parameter usage: what the job's cgroup used, where gatherd has cgroups.
    public static func jobFailed(_ job: JobIdentity, policy: GatherPolicy, error: CompoundError,
                                 usage: CgroupUsage? = nil) -> JournalEntry {
        var entry = event(.jobFailed, job: job,
                          "job \(job.label) failed: \(error.line(maxErrors: maxMessageErrors))")
        entry.appendKnown("GATHER_STATE", JobState.failed.rawValue)
        entry.appendKnown("GATHER_POLICY", policy.rawValue)
        entry.appendKnown("GATHER_ERROR_COUNT", String(error.failures.count))
        for failure in error.failures.prefix(maxFailureFields) {
            entry.appendKnown("GATHER_FAILURE", capped(failure.description, bytes: maxFailureBytes))
        }
        if error.failures.count > maxFailureFields {
            entry.appendKnown("GATHER_FAILURES_OMITTED", String(error.failures.count - maxFailureFields))
        }
        appendUsage(&entry, usage)
        return entry
    }

    /// `job NAME failing: dump-db: exited with status 1` (priority 4), the first error
    /// of a `fail-fast` or `cancel-siblings` job, logged before the rest end.
    public static func jobFailing(_ job: JobIdentity, policy: GatherPolicy, firstError: String) -> JournalEntry {
        var entry = event(.jobFailing, job: job, "job \(job.label) failing: \(firstError)")
        entry.appendKnown("GATHER_STATE", "failing")
        entry.appendKnown("GATHER_POLICY", policy.rawValue)
        return entry
    }

    /// `job NAME: dump-db: exited with status 1` (priority 4): a task's final error outcome.
    /// - Parameters:
    ///   - errorLine: the SPEC §5 line, `task: text`.
    ///   - exitStatus: what `waitpid` saw, if the process exited.
    ///   - signal: the signal name in `SIGKILL` form, if it was signalled.
    ///   - usage: what the task's cgroup used, where gatherd has cgroups.
    public static func taskError(
        _ job: JobIdentity, task: String, attempt: Int, outcome: TaskOutcome,
        errorLine: String, exitStatus: Int32? = nil, signal: String? = nil, usage: CgroupUsage? = nil,
        slurmJob: Int64? = nil
    ) -> JournalEntry {
        var entry = event(.taskError, job: job, "job \(job.label): \(errorLine)")
        appendTask(&entry, task: task, attempt: attempt, outcome: outcome, exitStatus: exitStatus, signal: signal)
        appendUsage(&entry, usage)
        appendSlurmJob(&entry, slurmJob)
        return entry
    }

    /// `job NAME: sync-files: exited with status 23; retry 1 of 2 in 5s` (priority 5).
    /// - Parameters:
    ///   - retry: the number of the coming retry (1 for the first).
    ///   - of: the task's `retries`.
    ///   - delay: the wait before it.
    public static func taskRetry(
        _ job: JobIdentity, task: String, attempt: Int, outcome: TaskOutcome, errorLine: String,
        retry: Int, of retries: Int, delay: Duration, exitStatus: Int32? = nil, signal: String? = nil,
        slurmJob: Int64? = nil
    ) -> JournalEntry {
        var entry = event(.taskRetry, job: job,
                          "job \(job.label): \(errorLine); retry \(retry) of \(retries) in \(DurationText.format(delay))")
        appendTask(&entry, task: task, attempt: attempt, outcome: outcome, exitStatus: exitStatus, signal: signal)
        appendSlurmJob(&entry, slurmJob)
        return entry
    }

    /// A successful task end (priority 7), logged only with `--log-level debug`; no MESSAGE_ID.
    /// - Parameter usage: what the task's cgroup used, where gatherd has cgroups.
    public static func taskSucceeded(_ job: JobIdentity, task: String, attempt: Int, elapsed: Duration,
                                     usage: CgroupUsage? = nil, slurmJob: Int64? = nil) -> JournalEntry {
        var entry = JournalEntry()
        entry.appendKnown("MESSAGE", "job \(job.label): \(task): succeeded in \(DurationText.format(elapsed))")
        entry.appendKnown("PRIORITY", "7")
        entry.appendKnown("SYSLOG_IDENTIFIER", "gatherd")
        appendJob(&entry, job)
        appendTask(&entry, task: task, attempt: attempt, outcome: .succeeded, exitStatus: 0, signal: nil)
        appendUsage(&entry, usage)
        appendSlurmJob(&entry, slurmJob)
        return entry
    }

    /// `GATHER_SLURM_JOB` (SPEC §7) of a task entry with `executor: slurm`, when the ID is known.
    static func appendSlurmJob(_ entry: inout JournalEntry, _ slurmJob: Int64?) {
        if let slurmJob { entry.appendKnown("GATHER_SLURM_JOB", String(slurmJob)) }
    }

    /// `job file bad.json rejected: tasks[0].command: …` (priority 3).
    /// - Parameters:
    ///   - file: the dropped file's name.
    ///   - errors: every validation error; MESSAGE joins them with `; `, each also a `GATHER_FAILURE`.
    public static func jobRejected(_ job: JobIdentity, file: String, errors: [String]) -> JournalEntry {
        var entry = event(.jobRejected, job: job, "job file \(file) rejected: \(errors.joined(separator: "; "))")
        entry.appendKnown("GATHER_STATE", JobState.rejected.rawValue)
        entry.appendKnown("GATHER_ERROR_COUNT", String(errors.count))
        for error in errors.prefix(maxFailureFields) {
            entry.appendKnown("GATHER_FAILURE", capped(error, bytes: maxFailureBytes))
        }
        if errors.count > maxFailureFields {
            entry.appendKnown("GATHER_FAILURES_OMITTED", String(errors.count - maxFailureFields))
        }
        return entry
    }

    /// `job NAME cancelled by request` (priority 5).
    /// - Parameter usage: what the job's cgroup used, where gatherd has cgroups.
    public static func jobCancelled(_ job: JobIdentity, policy: GatherPolicy, usage: CgroupUsage? = nil) -> JournalEntry {
        var entry = event(.jobCancelled, job: job, "job \(job.label) cancelled by request")
        entry.appendKnown("GATHER_STATE", JobState.cancelled.rawValue)
        entry.appendKnown("GATHER_POLICY", policy.rawValue)
        appendUsage(&entry, usage)
        return entry
    }

    /// `cancel request for NAME refused: owned by uid 1001, job by uid 1000` (priority 4).
    public static func cancelRefused(_ job: JobIdentity, requestOwner: UInt32) -> JournalEntry {
        cancelRefused(job, requestOwner: requestOwner, reason: "owned by uid \(requestOwner), job by uid \(job.uid)")
    }

    /// `cancel request for NAME refused: REASON` (priority 4), for refusals other
    /// than the owner check (`no such job waiting or running`, `not a regular file`).
    public static func cancelRefused(_ job: JobIdentity, requestOwner: UInt32, reason: String) -> JournalEntry {
        var entry = event(.cancelRefused, job: job, "cancel request for \(job.label) refused: \(reason)")
        entry.appendKnown("GATHER_REQUEST_UID", String(requestOwner))
        return entry
    }

    /// `cancel request for ID refused: REASON` (priority 4) for an ID that names
    /// no job waiting or running: the entry carries `GATHER_JOB` (so
    /// `journalctl GATHER_JOB=ID` shows it) and no run, name or submitter.
    public static func cancelRefused(unknownJob id: String, requestOwner: UInt32, reason: String) -> JournalEntry {
        var entry = event(.cancelRefused, job: nil, "cancel request for \(id) refused: \(reason)")
        entry.appendKnown("GATHER_JOB", id)
        entry.appendKnown("GATHER_REQUEST_UID", String(requestOwner))
        return entry
    }

    /// `job NAME interrupted: daemon stopped` (priority 4).
    /// - Parameters:
    ///   - reason: why, e.g. `daemon stopped` or `daemon crashed`.
    ///   - usage: what the job's cgroup used, where gatherd has cgroups.
    public static func jobInterrupted(_ job: JobIdentity, policy: GatherPolicy, reason: String = "daemon stopped",
                                      usage: CgroupUsage? = nil) -> JournalEntry {
        var entry = event(.jobInterrupted, job: job, "job \(job.label) interrupted: \(reason)")
        entry.appendKnown("GATHER_STATE", JobState.interrupted.rawValue)
        entry.appendKnown("GATHER_POLICY", policy.rawValue)
        appendUsage(&entry, usage)
        return entry
    }

    /// `cannot write record of NAME: No space left on device; claiming paused` (priority 2).
    /// With no job (a claim that could not be written, recovery), `cannot write
    /// to the spool: WHAT: WHY; claiming paused` and no job fields.
    /// - Parameter error: the reason as a person reads it (`strerror` text).
    public static func spoolWriteError(_ job: JobIdentity?, error: String) -> JournalEntry {
        guard let job else {
            return event(.spoolWriteError, job: nil, "cannot write to the spool: \(error); claiming paused")
        }
        return event(.spoolWriteError, job: job, "cannot write record of \(job.label): \(error); claiming paused")
    }

    /// `gatherd ready: spool /var/spool/gatherd, 0 jobs recovered` (priority 6).
    public static func daemonReady(spool: String, recovered: Int) -> JournalEntry {
        event(.daemonReady, job: nil,
              "gatherd ready: spool \(spool), \(recovered) job\(recovered == 1 ? "" : "s") recovered")
    }

    /// `gatherd stopping: 2 jobs interrupted` (priority 6).
    public static func daemonStopping(interrupted: Int) -> JournalEntry {
        event(.daemonStopping, job: nil,
              "gatherd stopping: \(interrupted) job\(interrupted == 1 ? "" : "s") interrupted")
    }

    /// The spool's `paused` file appeared (SPEC §3): `claiming paused: 3 files wait in incoming/`.
    public static func claimingPaused(waiting: Int) -> JournalEntry {
        event(.claimingPaused, job: nil,
              "claiming paused: \(waiting) file\(waiting == 1 ? "" : "s") wait\(waiting == 1 ? "s" : "") in incoming/")
    }

    /// The spool's `paused` file is gone: `claiming resumed`.
    public static func claimingResumed() -> JournalEntry {
        event(.claimingPaused, job: nil, "claiming resumed")
    }

    /// `job NAME: on_failure hook exited with status 2` (priority 4): a hook
    /// (SPEC §11) that did not succeed. The job's state is not changed by it.
    /// - Parameters:
    ///   - hook: `on_end`, `on_failure`, or `--on-failure` (the daemon's).
    ///   - what: the error text (`exited with status 2`, `timed out after 1m`).
    ///   - state: the job's state, unchanged.
    public static func hookFailed(
        _ job: JobIdentity, hook: String, outcome: TaskOutcome, what: String, state: String,
        exitStatus: Int32? = nil, signal: String? = nil
    ) -> JournalEntry {
        var entry = event(.hookFailed, job: job, "job \(job.label): \(hook) hook \(what)")
        entry.appendKnown("GATHER_STATE", state)
        appendTask(&entry, task: hook, attempt: 1, outcome: outcome, exitStatus: exitStatus, signal: signal)
        return entry
    }

    /// `job ID: --on-failure hook succeeded in 40ms` (priority 6, no
    /// MESSAGE_ID): the administrator's `--on-failure` is in no record, so the
    /// journal holds its every run, the successful ones too.
    public static func hookSucceeded(_ job: JobIdentity, hook: String, state: String, elapsed: Duration) -> JournalEntry {
        var entry = JournalEntry()
        entry.appendKnown("MESSAGE", "job \(job.label): \(hook) hook succeeded in \(DurationText.format(elapsed))")
        entry.appendKnown("PRIORITY", "6")
        entry.appendKnown("SYSLOG_IDENTIFIER", "gatherd")
        appendJob(&entry, job)
        entry.appendKnown("GATHER_STATE", state)
        appendTask(&entry, task: hook, attempt: 1, outcome: .succeeded, exitStatus: 0, signal: nil)
        return entry
    }

    // MARK: - Building blocks

    private static func event(_ id: JournalMessageID, job: JobIdentity?, _ message: String) -> JournalEntry {
        var entry = JournalEntry()
        entry.appendKnown("MESSAGE", message)
        entry.appendKnown("MESSAGE_ID", id.rawValue)
        entry.appendKnown("PRIORITY", String(id.priority))
        entry.appendKnown("SYSLOG_IDENTIFIER", "gatherd")
        if let job { appendJob(&entry, job) }
        return entry
    }

    static func appendJob(_ entry: inout JournalEntry, _ job: JobIdentity) {
        entry.appendKnown("GATHER_JOB", job.id)
        // A job not started yet (queued, rejected before a run) has no run ID.
        if !job.run.isEmpty { entry.appendKnown("GATHER_RUN", job.run) }
        entry.appendKnown("GATHER_JOB_NAME", job.name)
        entry.appendKnown("GATHER_UID", String(job.uid))
    }

    private static func appendTask(
        _ entry: inout JournalEntry, task: String, attempt: Int, outcome: TaskOutcome,
        exitStatus: Int32?, signal: String?
    ) {
        entry.appendKnown("GATHER_TASK", task)
        entry.appendKnown("GATHER_ATTEMPT", String(attempt))
        entry.appendKnown("GATHER_OUTCOME", outcome.rawValue)
        if let exitStatus { entry.appendKnown("GATHER_EXIT_STATUS", String(exitStatus)) }
        if let signal { entry.appendKnown("GATHER_SIGNAL", signal) }
    }

    /// `GATHER_CPU_USEC` and `GATHER_MEMORY_PEAK` (SPEC §7), each only when known.
    private static func appendUsage(_ entry: inout JournalEntry, _ usage: CgroupUsage?) {
        if let cpu = usage?.cpuUsec { entry.appendKnown("GATHER_CPU_USEC", String(cpu)) }
        if let memory = usage?.memoryPeak { entry.appendKnown("GATHER_MEMORY_PEAK", String(memory)) }
    }

    /// `text` cut to at most `bytes` UTF-8 bytes at a character boundary, `…` marking the cut.
    static func capped(_ text: String, bytes limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var result = ""
        var used = 0
        let budget = limit - 3 // the UTF-8 bytes of "…"
        for character in text {
            let size = character.utf8.count
            if used + size > budget { break }
            result.append(character)
            used += size
        }
        return result + "…"
    }
}
