import Gather
import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// A job found in `active/` at start that needs the daemon (SPEC §3 recovery).
public enum RecoveredJob: Sendable {
    /// Run it: never started, or `restartable` with fewer than 3 runs. Kill
    /// `leftovers` first.
    case run(ClaimedJob, leftovers: [JobStateFile.ProcessGroup])
    /// It was running: kill `leftovers` (after the job's `kill_grace`, `nil`
    /// for the daemon's default), then ``SpoolDirectory/finish(_:)`` the record (`interrupted`).
    case interrupt(JobRecord, leftovers: [JobStateFile.ProcessGroup], killGrace: Duration?, job: ClaimedJob)
}

/// What recovery found and did.
public struct RecoveryReport: Sendable {
    /// Jobs whose `result.json` was written: their move was completed.
    public var completed: [String] = []
    /// Claim directories left empty by a crash (their file is still in `incoming/`): removed.
    public var removed: [String] = []
    /// Files found invalid when re-examined: recorded in `rejected/`.
    public var rejected: [JobRecord] = []
    /// Jobs for the daemon, in the order they were received.
    public var jobs: [RecoveredJob] = []
    /// The Slurm jobs (SPEC §12) each of ``jobs`` started in its last run,
    /// by job ID: the daemon cancels them by these IDs before it records or
    /// runs the job again. Slurm job IDs are not tied to this host's boot.
    public var slurmJobs: [String: [JobStateFile.SlurmJob]] = [:]
    /// The last runs of ``jobs`` that had Slurm tasks: the daemon also
    /// cancels the Slurm jobs those runs started whose IDs they never
    /// learned (a crash in an attempt's first moments), found by the run's
    /// comment.
    public var slurmRuns: [SlurmRun] = []

    /// A run of a job with Slurm tasks.
    public struct SlurmRun: Sendable, Equatable {
        public var job: String
        /// The run's ID (`state.json` `run`).
        public var run: String
        /// The job's task names in job order (a comment names a task by its index).
        public var tasks: [String]
        /// The indices of the tasks that run with `executor: slurm`.
        public var slurmTasks: [Int]
    }
}

extension SpoolDirectory {
    /// Most runs of a `restartable` job (SPEC §3).
    public static let maxRuns = 3

    /// Recovers `active/` at start, before anything is claimed (SPEC §3): a
    /// `result.json` present → the move is finished; no `job.json` → the
    /// directory is removed; never started → queued again; was running → its
    /// leftover process groups (same boot, same start time) are reported to
    /// kill, and it is re-run if `restartable` with fewer than 3 runs, else
    /// recorded `interrupted`.
    /// - Parameter known: IDs the daemon holds (queued or running) and which
    ///   must be left alone: a running daemon passes them to take up claims
    ///   that a spool write error left half done.
    /// - Throws: ``SpoolError``; a record write error leaves the rest in `active/` for a later call.
    public func recover(skipping known: Set<String> = []) throws(SpoolError) -> RecoveryReport {
        var report = RecoveryReport()
        var pending: [(Timestamp, RecoveredJob)] = []
        // What a crashed daemon wrote may still be only in the page cache: made
        // durable first, so that nothing recovery does (sealing a job.json by
        // the state.json that names its submitter, completing moves) rests on
        // a file a power loss could still take back.
        try commitAll()
        for raw in try names(in: .active) {
            let id = String(decoding: raw, as: UTF8.self)
            if known.contains(id) { continue }
            guard JobID.isValid(raw) || !id.hasPrefix(".") else { continue }
            guard case .success(let st) = SystemCall.lstat(raw, in: fd(.active)), st.st_mode & S_IFMT == S_IFDIR else { continue }
            let dir = try SystemCall.sys("open active/\(id)") { openat(fd(.active), id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            defer { SystemCall.close(dir) }
            // A complete temporary record was durable before anything of the
            // finish was in place (writeRecord, then the commit): it is the record.
            if case .success = SystemCall.lstat(Array(".result.json.tmp".utf8), in: dir),
               (try? SpoolReader.readRecord(in: dir, label: "active/\(id)", name: ".result.json.tmp")) != nil {
                _ = SystemCall.call { renameat(dir, ".result.json.tmp", dir, "result.json") }
            }
            for temp in [".result.json.tmp", ".state.json.tmp", ".job.json.tmp"] { _ = SystemCall.call { unlinkat(dir, temp, 0) } }
            if let area = finishedArea(dir, id: id) {
                _ = SystemCall.call { unlinkat(dir, "state.json", 0) }
                _ = SystemCall.call { unlinkat(dir, ProgressLog.fileName, 0) }
                try moveFinished(id: id, to: area)
                report.completed.append(id)
                continue
            }
            if case .failure(let e) = SystemCall.lstat(Array("job.json".utf8), in: dir), e.rawValue == ENOENT {
                try SystemCall.sys("rmdir active/\(id)") { unlinkat(fd(.active), id, AT_REMOVEDIR) }
                report.removed.append(id)
                continue
            }
            let stored: JobStateFile?
            do {
                stored = try SpoolReader.readState(in: dir, label: "active/\(id)").value
            } catch where error.errno?.rawValue == ENOENT {
                stored = nil  // the claim stopped before it: job.json is still the submitter's
            } catch {
                // There but unreadable (cut short, corrupt): the submitter is
                // known only from it, never from a job.json the daemon may own.
                report.rejected.append(try rejectUnknownSubmitter(dir: dir, id: id, reason: "\(error)"))
                continue
            }
            let file = stored?.file ?? "\(id).json"
            switch try examine(dir: dir, id: id, file: file, receivedAt: .now(), stored: stored, extraProblems: []) {
            case .rejected(let record): report.rejected.append(record)
            case .ignored, .vanished: break
            case .claimed(let job):
                let leftovers = liveProcessGroups(job.state)
                if !job.state.slurmJobs.isEmpty { report.slurmJobs[job.id] = job.state.slurmJobs }
                if job.job.usesSlurm, job.state.runs > 0, let run = job.state.run {
                    let tasks = job.job.tasks
                    report.slurmRuns.append(RecoveryReport.SlurmRun(
                        job: job.id, run: run, tasks: tasks.map(\.name),
                        slurmTasks: tasks.indices.filter { job.job.executor(of: tasks[$0]) == .slurm }))
                }
                if job.state.runs == 0 || (job.job.restartable && job.state.runs < Self.maxRuns) {
                    pending.append((job.state.receivedAt, .run(job, leftovers: leftovers)))
                } else {
                    pending.append((job.state.receivedAt, .interrupt(interruptedRecord(job), leftovers: leftovers,
                                                                     killGrace: job.job.killGrace, job: job)))
                }
            }
        }
        report.jobs = pending.sorted { $0.0 < $1.0 }.map(\.1)
        return report
    }

    /// The recorded process groups that are still the same processes: same
    /// boot, and the leader's start time unchanged (so a reused PID is spared).
    func liveProcessGroups(_ state: JobStateFile) -> [JobStateFile.ProcessGroup] {
        guard let boot = state.bootID, boot == bootID else { return [] }
        return state.processGroups.filter { ProcStat.startTime(of: $0.pgid) == $0.startTime }
    }

    /// The record of a run cut short by a crash: tasks that had ended keep
    /// their outcome; running ones are `cancelled`, the others `skipped`, both
    /// with the reason `daemon restarted`.
    func interruptedRecord(_ job: ClaimedJob) -> JobRecord {
        let s = job.state
        let tasks: [JobRecord.TaskEntry] = job.job.tasks.map { task in
            let progress = s.tasks.first { $0.name == task.name }
            let slurmJob = s.slurmJobs.last { $0.task == task.name }?.id
            if let progress, let outcome = progress.status.outcome {
                return .init(name: task.name, outcome: outcome, attempts: progress.attempts, slurmJob: slurmJob)
            }
            if let progress, progress.attempts > 0 {
                return .init(name: task.name, outcome: .cancelled, reason: TaskReason.daemonRestarted.description,
                             attempts: progress.attempts, slurmJob: slurmJob)
            }
            return .init(name: task.name, outcome: .skipped, reason: TaskReason.daemonRestarted.description, attempts: 0)
        }
        // The crashed run's own ID, so GATHER_RUN of this record matches its entries.
        return JobRecord(id: job.id, run: s.run ?? JobRecord.newRunID(), name: s.name, file: s.file,
                         state: .interrupted, policy: job.job.policy,
                         uid: s.uid, gid: s.gid, user: s.user, runAs: s.runAs, receivedAt: s.receivedAt,
                         startedAt: s.startedAt, error: nil, tasks: tasks)
    }

    /// Where the job whose directory is open as `dir` goes when its record is
    /// there (SPEC §3: a `result.json` present → finish the move); `nil`
    /// without one. The record is written whole and then renamed into place,
    /// so one that cannot be read was not cut short by the crash: the job
    /// ended all the same, and `failed/` is the area that claims no success.
    func finishedArea(_ dir: Int32, id: String) -> Area? {
        do {
            return try SpoolReader.readRecord(in: dir, label: "active/\(id)").value.stateDirectory
        } catch where error.errno?.rawValue == ENOENT {
            return nil
        } catch {
            return .failed
        }
    }
}

extension SpoolDirectory {
    /// A job whose `state.json` cannot be read after a crash: recorded
    /// `rejected`, never run. Its submitter is taken from `job.json` only when
    /// the daemon does not own that file (the daemon's copy replaces the
    /// submitter's file once state.json names the submitter); else the
    /// record names the daemon's user.
    func rejectUnknownSubmitter(dir: Int32, id: String, reason: String) throws(SpoolError) -> JobRecord {
        var uid = daemonUID
        if case .success(let st) = SystemCall.lstat(Array("job.json".utf8), in: dir), st.st_uid != daemonUID { uid = st.st_uid }
        let account = UserAccount.lookup(uid: uid)
        let record = JobRecord(id: id, name: id, file: "\(id).json", state: .rejected, policy: nil, uid: uid,
                               gid: account?.gid ?? daemonGID, user: account?.name, runAs: nil, receivedAt: .now(),
                               startedAt: nil, error: "the job's state was lost in a crash (\(reason)); it was not run",
                               tasks: [])
        try finishRejection(record)
        return record
    }
}
