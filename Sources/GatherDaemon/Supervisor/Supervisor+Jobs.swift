import Gather
import GatherJournal
import GatherSpool

extension Supervisor {
    // MARK: Claims and starts

    /// Claims `incoming/NAME`. A name found by a full scan (`fromScan`) is
    /// passed over while some process still has it open for writing: its
    /// `IN_CLOSE_WRITE` brings it back once written (SPEC §3).
    func claim(_ name: SpoolEntryName, fromScan: Bool = false) {
        guard case .running = state, writeError == nil else { return }
        guard !claimsPaused else {
            if seenWhilePaused[name] == nil { seenWhilePaused[name] = seenAt }
            return
        }
        let outcome: ClaimOutcome
        do {
            outcome = try spool.claim(name.bytes, deferringState: true, skippingOpenForWriting: fromScan)
        } catch {
            claimFailed(error)
            return
        }
        switch outcome {
        case .claimed(let job):
            turn.wrote = true
            let refusals = limitRefusals(job.job) + slurmRefusals(job.job)
            if !refusals.isEmpty {
                // SPEC §11: never run silently unlimited.
                do {
                    logRejected(try spool.reject(job, reason: refusals.joined(separator: "; ")))
                } catch {
                    claimFailed(error)
                }
                return
            }
            var entry = admitted(job)
            entry.seen = seenWhilePaused[name] ?? seenAt
            if case .queueFull(let waiting) = jobs.admit(entry) {
                do {
                    let record = try spool.reject(job, reason: "queue full: \(waiting) jobs of uid \(job.state.uid) waiting or running (--max-queued-per-user)")
                    logRejected(record)
                } catch {
                    claimFailed(error)
                }
                return
            }
            if job.unsealedJobFile != nil { turn.unsealed.append(job) }
            takePendingCancel(job.id)
        case .rejected(let record):
            logRejected(record)
        case .ignored, .vanished:
            break
        }
    }

    /// Each limit of `file` this host cannot enforce, with its key path
    /// (`tasks[1].memory_max: cannot be enforced here: …`); empty when all can.
    func limitRefusals(_ file: JobFile) -> [String] {
        var lines = cgroups.refusals(of: file.limits).map { "\($0.key): \($0.reason)" }
        for (index, task) in file.tasks.enumerated() {
            lines += cgroups.refusals(of: task.limits).map { "tasks[\(index)].\($0.key): \($0.reason)" }
        }
        return lines
    }

    /// Why `file`'s `executor: slurm` tasks cannot run here (SPEC §12), as
    /// the rejection's line (`executor: slurm: srun not found in PATH (…)`,
    /// `executor: slurm: slurm does not answer (scontrol ping: …)`); empty
    /// when the job runs nothing on Slurm or Slurm answers. Rejected at the
    /// claim so that nothing of such a job half-runs; the probe's answer is
    /// kept a few seconds, so a burst of jobs probes once.
    func slurmRefusals(_ file: JobFile) -> [String] {
        guard file.usesSlurm else { return [] }
        guard let slurm else { return ["executor: slurm: not available in this daemon"] }
        if case .failure(let why) = slurm.availability() { return ["executor: slurm: \(why)"] }
        return []
    }

    /// The job with its settings resolved: the one place the daemon's defaults meet a job file.
    func admitted(_ job: ClaimedJob) -> AdmittedJob {
        AdmittedJob(job: job, settings: JobSettings(job.job, configuration: configuration))
    }

    /// A cancel request that came while the job still waited in `incoming/` applies now.
    func takePendingCancel(_ id: String) {
        if pendingCancels.remove(id) != nil { cancelRequest(SpoolEntryName(id)) }
    }

    /// Starts waiting jobs in arrival order within `--max-jobs` and
    /// `--max-jobs-per-user`: each is marked started in `state.json` and
    /// handed to the main loop at the end of the turn, after its commit.
    func startWaitingJobs() {
        guard case .running = state, writeError == nil else { return }
        while let next = jobs.nextToStart() {
            let job = next.job
            let run: SpoolDirectory.StartedRun
            let runID = JobRecord.newRunID()
            do {
                run = try spool.markStarted(job, run: runID)
            } catch {
                // A claim whose state.json was deferred to this start is no job
                // yet for the journal: no job fields made up for it.
                pauseClaims(error.located, identity: job.stateWritten ? identity(of: job, run: JobRecord.newRunID()) : nil)
                return
            }
            var claimed = job
            claimed.state = run.state
            let start = JobStart(
                job: claimed, settings: next.settings, identity: identity(of: claimed, run: runID),
                control: GatherControl(), progress: JobProgress(log: run.log, tasks: job.job.tasks.map(\.name)),
                seen: next.seen)
            jobs.start(job.id, as: start)
            turn.starts.append(start)
            turn.wrote = true
        }
        updateStatus()
    }

    /// A job run ended (the main loop's child task posts it): its record is
    /// written in this turn, and what may start next starts at its end.
    func jobEnded(_ id: String, _ end: JobRunEnd) {
        guard let ended = jobs.ended(id) else {
            fatalError("Supervisor.jobEnded: job \(id) is not running (it was started by this supervisor, so it must be)")
        }
        // Its record (or its restart) takes over from state.json.
        unwrittenProgress.remove(id)
        switch end {
        case .record(let record):
            if JobHooks.wanted(record, job: ended.job.job, configuration: configuration) {
                // The job's child task waits for the move, then runs them.
                recordGates[id] = ended.recordMoved
                hooksPending += 1
            }
            write(record, identity: ended.identity)
        case .keepForRestart:
            break
        }
    }

    func identity(of job: ClaimedJob, run: String) -> JobIdentity {
        JobIdentity(id: job.id, run: run, name: job.job.displayName(id: job.id), uid: job.state.uid)
    }
}
