import Gather
import GatherJournal
import GatherProcess
import GatherSpool
#if canImport(Glibc)
import Glibc
#endif

/// A job the supervisor wants run; the daemon's main loop runs it in a child
/// task of its group and reports the end back with ``Supervisor/jobEnded(_:_:)``.
struct JobStart: Sendable {
    let job: ClaimedJob
    let settings: JobSettings
    let identity: JobIdentity
    let control: GatherControl
    let progress: JobProgress
}

/// Owns every job (SPEC §3, §9): claims files, keeps the queue in arrival
/// order, starts jobs within `--max-jobs` and the per-user limits, handles
/// cancel requests, writes records (pausing claims on a spool write error),
/// keeps `STATUS=` current and sends the watchdog pings itself, so a stuck
/// actor is caught by systemd.
actor Supervisor {
    private enum State {
        /// Recovering and scanning; not ready yet.
        case starting
        case running
        /// SIGTERM/SIGINT: no claims, running jobs cancelled, waiting for them.
        case stopping
        /// Every job has ended; the main loop has been told.
        case stopped
    }

    private struct Running {
        let start: JobStart
        var uid: UInt32 { start.job.state.uid }
    }

    private var state = State.starting
    /// Claimed jobs not started yet, in arrival order.
    private var queue: [AdmittedJob] = []
    private var running: [String: Running] = [:]
    /// Cancel requests for jobs still waiting in `incoming/`.
    private var pendingCancels: Set<String> = []
    /// Records that could not be written (SPEC §3: retried every 10 s).
    private var unwritten: [String: (record: JobRecord, identity: JobIdentity)] = [:]
    /// The last `STATUS=` line sent.
    private var lastStatus: String?
    /// Set while a spool write fails: no claims until it works again.
    private var writeError: String?
    /// Running jobs whose `state.json` could not be written: retried with the records.
    private var unwrittenProgress: Set<String> = []
    private var done = 0
    private var failed = 0
    private var rejected = 0

    private let spool: SpoolDirectory
    private let journal: JournalWriter
    private let notifier: SystemdNotifier
    private let configuration: DaemonConfiguration
    private let starts: AsyncStream<JobStart>.Continuation

    init(
        spool: SpoolDirectory, journal: JournalWriter, notifier: SystemdNotifier,
        configuration: DaemonConfiguration, starts: AsyncStream<JobStart>.Continuation
    ) {
        self.spool = spool
        self.journal = journal
        self.notifier = notifier
        self.configuration = configuration
        self.starts = starts
    }

    private var incomingPath: String { spool.path + "/incoming" }
    private var cancelPath: String { spool.path + "/cancel" }

    // MARK: Start-up

    /// Recovery of `active/` (SPEC §3). Returns how many jobs it found.
    func recover() -> Int { recoverActive(skipping: []) }

    /// Recovery of the jobs in `active/` but `known`; at start, and when
    /// claiming resumes after a spool write error, for a claim the error cut
    /// short (its file is in `active/` already, so no rescan would find it).
    private func recoverActive(skipping known: Set<String>) -> Int {
        let report: RecoveryReport
        do {
            report = try spool.recover(skipping: known)
        } catch {
            claimFailed(error)
            return 0
        }
        for record in report.rejected { logRejected(record) }
        // Every job's leftovers at once: one grace in all, not one per job, so
        // many crashed jobs cannot hold the start past systemd's start timeout.
        // Each group is stopped after its own job's kill_grace.
        let leftovers = report.jobs.flatMap { recovered -> [LeftoverProcesses.Group] in
            let (groups, settings): ([JobStateFile.ProcessGroup], JobSettings)
            switch recovered {
            case .run(let job, let found): (groups, settings) = (found, JobSettings(job.job, configuration: configuration))
            case .interrupt(_, let found, let grace): (groups, settings) = (found, JobSettings(killGrace: grace, configuration: configuration))
            }
            return groups.map { LeftoverProcesses.Group(group: $0, grace: settings.killGrace) }
        }
        LeftoverProcesses.kill(leftovers)
        for recovered in report.jobs {
            switch recovered {
            case .run(let job, _):
                enqueue(job)
            case .interrupt(let record, _, _):
                let identity = JobIdentity(id: record.id, run: record.run, name: record.name, uid: record.uid)
                journal.log(.jobInterrupted(identity, policy: record.policy ?? .collectAll, reason: "daemon stopped while it ran"))
                write(record, identity: identity)
            }
        }
        return report.jobs.count
    }

    /// After the first scan: `READY=1` and the ready entry (SPEC §9).
    func ready(recovered: Int) {
        guard case .starting = state else { return }
        state = .running
        // The first scan (the watch is already in place), then READY=1.
        rescan(checkingIdle: false)
        journal.log(.daemonReady(spool: spool.path, recovered: recovered))
        _ = notifier.ready(status: statusLine)
        checkIdle()
    }

    // MARK: Events

    func handle(_ event: SpoolEvent) {
        switch event {
        case .incoming(let name, _):
            claim(name)
            startWaitingJobs()
            checkIdle()
        case .cancelRequest(let name):
            cancelRequest(name)
        case .rescan:
            rescan()
        }
    }

    func handle(_ signal: DaemonSignal) {
        switch signal {
        case .terminate, .interrupt: shutdown()
        case .hangup: rescan()
        }
    }

    /// A full scan of `incoming/` and `cancel/` (start, SIGHUP, queue overflow, resume).
    func rescan(checkingIdle: Bool = true) {
        if let names = try? SpoolScan.incoming(incomingPath) {
            for name in names { claim(name) }
        }
        if let names = try? SpoolScan.cancelRequests(cancelPath) {
            for name in names { cancelRequest(name) }
        }
        startWaitingJobs()
        if checkingIdle { checkIdle() }
    }

    /// Sent from the actor itself, so a stuck actor misses its pings (SPEC §9).
    func watchdogPing() {
        _ = notifier.watchdogPing()
    }

    /// Every 10 s: retry unwritten records; delete expired job directories.
    func maintain(retention: Bool) {
        retryUnwritten()
        if retention, let age = configuration.retain {
            _ = try? spool.removeExpired(olderThan: age)
        }
        updateStatus()
    }

    // MARK: Claims and starts

    private func claim(_ name: SpoolEntryName) {
        guard case .running = state, writeError == nil else { return }
        let outcome: ClaimOutcome
        do {
            outcome = try spool.claim(name.bytes)
        } catch {
            claimFailed(error)
            return
        }
        switch outcome {
        case .claimed(let job):
            let waiting = queue.count { $0.uid == job.state.uid } + running.values.count { $0.uid == job.state.uid }
            if waiting >= configuration.maxQueuedPerUser {
                do {
                    let record = try spool.reject(job, reason: "queue full: \(waiting) jobs of uid \(job.state.uid) waiting or running (--max-queued-per-user)")
                    logRejected(record)
                } catch {
                    claimFailed(error)
                }
                return
            }
            enqueue(job)
        case .rejected(let record):
            logRejected(record)
        case .ignored, .vanished:
            break
        }
    }

    private func enqueue(_ job: ClaimedJob) {
        queue.append(AdmittedJob(job: job, settings: JobSettings(job.job, configuration: configuration)))
        if pendingCancels.remove(job.id) != nil { cancelRequest(SpoolEntryName(job.id)) }
    }

    /// Starts waiting jobs in arrival order within `--max-jobs` and `--max-jobs-per-user`.
    private func startWaitingJobs() {
        guard case .running = state, writeError == nil else { return }
        var index = 0
        while index < queue.count, running.count < configuration.maxJobs {
            let admitted = queue[index]
            let job = admitted.job
            let uid = admitted.uid
            guard running.values.count(where: { $0.uid == uid }) < configuration.maxJobsPerUser else {
                index += 1
                continue
            }
            let started: JobStateFile
            do {
                started = try spool.markStarted(job)
            } catch {
                pauseClaims(error.located, identity: identity(of: job, run: JobRecord.newRunID()))
                return
            }
            queue.remove(at: index)
            var claimed = job
            claimed.state = started
            let start = JobStart(
                job: claimed, settings: admitted.settings, identity: identity(of: claimed, run: JobRecord.newRunID()), control: GatherControl(),
                progress: JobProgress(spool: spool, state: started))
            running[job.id] = Running(start: start)
            starts.yield(start)
        }
        updateStatus()
    }

    /// A job run ended (the main loop's child task calls this).
    func jobEnded(_ id: String, _ end: JobRunEnd) {
        guard let ended = running.removeValue(forKey: id) else {
            fatalError("Supervisor.jobEnded: job \(id) is not running (it was started by this supervisor, so it must be)")
        }
        // Its record (or its restart) takes over from state.json.
        unwrittenProgress.remove(id)
        switch end {
        case .record(let record):
            write(record, identity: ended.start.identity)
        case .keepForRestart:
            break
        }
        if case .stopping = state {
            if running.isEmpty { finishStopping() }
            updateStatus()
            return
        }
        startWaitingJobs()
        checkIdle()
    }

    private func identity(of job: ClaimedJob, run: String) -> JobIdentity {
        JobIdentity(id: job.id, run: run, name: job.job.displayName(id: job.id), uid: job.state.uid)
    }

    // MARK: Records

    private func write(_ record: JobRecord, identity: JobIdentity) {
        do {
            try spool.finish(record)
            count(record.state)
        } catch {
            unwritten[record.id] = (record, identity)
            pauseClaims(error.reason, identity: identity)
        }
    }

    /// A claim, rejection or recovery failed: claiming pauses. A rejection whose
    /// record could not be written is logged now and kept with the other
    /// unwritten records (counted once written): recovery must not take the
    /// file up again as a job to run.
    private func claimFailed(_ error: SpoolError) {
        guard let record = error.record else {
            pauseClaims(error.located, identity: nil)
            return
        }
        let identity = logRejected(record, counting: false)
        unwritten[record.id] = (record, identity)
        pauseClaims(error.reason, identity: identity)
    }

    private func count(_ state: JobState) {
        switch state {
        case .succeeded: done += 1
        case .rejected: rejected += 1
        case .failed, .cancelled, .interrupted: failed += 1
        }
    }

    private func pauseClaims(_ reason: String, identity: JobIdentity?) {
        let first = writeError == nil
        writeError = reason
        if first || identity != nil {
            journal.log(.spoolWriteError(identity, error: reason))
        }
        updateStatus()
    }

    private func retryUnwritten() {
        guard writeError != nil else { return }
        for id in unwrittenProgress.sorted() {
            do {
                try running[id]?.start.progress.retryWrite()
                unwrittenProgress.remove(id)
            } catch {
                writeError = error.located
                updateStatus()
                return
            }
        }
        for (id, pending) in unwritten.sorted(by: { $0.key < $1.key }) {
            do {
                try spool.finish(pending.record)
                unwritten[id] = nil
                count(pending.record.state)
            } catch {
                writeError = error.reason
                updateStatus()
                return
            }
        }
        // Every record is on disk: claim again, and pick up what arrived meanwhile.
        writeError = nil
        if case .running = state {
            _ = recoverActive(skipping: Set(queue.map(\.id)).union(running.keys))
            rescan()
        } else if case .stopping = state, running.isEmpty { finishStopping() }
        updateStatus()
    }

    @discardableResult
    private func logRejected(_ record: JobRecord, counting: Bool = true) -> JobIdentity {
        if counting { count(.rejected) }
        let identity = JobIdentity(id: record.id, run: record.run, name: record.name, uid: record.uid)
        journal.log(.jobRejected(identity, file: record.file, errors: [record.error ?? "invalid job file"]))
        return identity
    }

    // MARK: Cancel requests

    private func cancelRequest(_ name: SpoolEntryName) {
        guard name.isCancelRequest, let id = name.string else { return }
        guard let owner = CancelFile.owner(directory: cancelPath, name: id) else { return }  // handled already
        let target: JobIdentity?
        if let job = running[id] {
            target = job.start.identity
        } else if let queued = queue.first(where: { $0.id == id }) {
            target = identity(of: queued.job, run: "")
        } else {
            target = nil
        }
        guard let target else {
            if owner.isRegularFile, CancelFile.jobWaiting(incoming: incomingPath, id: id) {
                pendingCancels.insert(id)  // kept until the job is claimed (SPEC §3)
                return
            }
            removeCancelRequest(id)
            journal.log(.cancelRefused(unknownJob: id, requestOwner: owner.uid ?? 0, reason: "no such job waiting or running"))
            return
        }
        removeCancelRequest(id)
        guard owner.isRegularFile else {
            journal.log(.cancelRefused(target, requestOwner: owner.uid ?? 0, reason: "not a regular file"))
            return
        }
        guard let requester = owner.uid, requester == target.uid || requester == 0 else {
            journal.log(.cancelRefused(target, requestOwner: owner.uid ?? 0))
            return
        }
        if let job = running[id] {
            job.start.control.cancel(.cancelledByRequest)
        } else {
            cancelQueued(id)
        }
    }

    /// Removes `cancel/ID` through the spool's directory descriptors, never
    /// following a link (a directory full of them included). A failure leaves
    /// it in place; a rescan finds it again.
    private func removeCancelRequest(_ id: String) {
        _ = try? spool.removeCancelRequest(Array(id.utf8))
    }

    /// Cancels a job that was claimed but never started: all tasks skipped.
    private func cancelQueued(_ id: String) {
        guard let index = queue.firstIndex(where: { $0.id == id }) else { return }
        let job = queue.remove(at: index).job
        let run = JobRecord.newRunID()
        let identity = identity(of: job, run: run)
        journal.log(.jobCancelled(identity, policy: job.job.policy))
        write(JobRecordBuilder.cancelledBeforeStart(job, run: run), identity: identity)
        updateStatus()
    }

    // MARK: Stopping

    private func shutdown() {
        switch state {
        case .stopping, .stopped: return
        case .starting, .running: break
        }
        state = .stopping
        journal.log(.daemonStopping(interrupted: running.count))
        _ = notifier.stopping(status: "stopping: \(running.count) job\(running.count == 1 ? "" : "s") interrupted")
        let grace = running.values.map(\.start.settings.killGrace).max() ?? .zero
        _ = notifier.extendTimeout(grace + .seconds(10))
        for job in running.values { job.start.control.cancel(.daemonStopping) }
        if running.isEmpty { finishStopping() }
    }

    private func finishStopping() {
        guard case .stopping = state else { return }
        state = .stopped
        starts.finish()
    }

    /// `--exit-when-idle`: nothing claimable, queued, running or unwritten.
    private func checkIdle() {
        guard configuration.exitWhenIdle, case .running = state, queue.isEmpty, running.isEmpty,
              unwritten.isEmpty, writeError == nil else { return }
        if let waiting = try? SpoolScan.incoming(incomingPath), waiting.contains(where: { !spool.isLeftInPlace($0.bytes) }) {
            return
        }
        state = .stopped
        starts.finish()
    }

    // MARK: Status

    /// A failed `state.json` write is a spool write error like a record's
    /// (SPEC §3): recovery would not know the job's process groups, so
    /// claiming pauses until the file can be written again.
    private func checkProgressWrites() {
        for (id, job) in running {
            guard let error = job.start.progress.takeWriteError() else { continue }
            unwrittenProgress.insert(id)
            pauseClaims(error.located, identity: nil)
        }
    }

    private var statusLine: String {
        if let writeError { return "spool write error: \(writeError); claiming paused" }
        let tasks = running.values.reduce(0) { $0 + $1.start.progress.runningProcesses }
        return "\(running.count) job\(running.count == 1 ? "" : "s") running (\(tasks) task\(tasks == 1 ? "" : "s")), "
            + "\(done) done, \(failed) failed, \(rejected) rejected"
    }

    /// Sends `STATUS=` when the line changed: after every supervisor event, and
    /// once a second from the daemon, as tasks start and end without one.
    func updateStatus() {
        checkProgressWrites()
        let line = statusLine
        guard line != lastStatus else { return }
        lastStatus = line
        _ = notifier.status(line)
    }
}
