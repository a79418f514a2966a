import Gather
import GatherJournal
import GatherProcess
import GatherSpool
import GatherSystem
import Synchronization

/// How a job run ended, for the supervisor.
enum JobRunEnd: Sendable {
    /// Write this record (state succeeded, failed, cancelled or interrupted).
    case record(JobRecord)
    /// A `restartable` job interrupted by shutdown: it stays in `active/` and
    /// recovery runs it again at the next start (SPEC §3, §9).
    case keepForRestart
}

/// Runs one claimed job: its tasks as processes through the `Gather` engine,
/// every SPEC §7 event to the journal, and the record at the end. Runs on a
/// child task of the daemon's main group, not on the supervisor actor, so a
/// job never blocks the actor.
struct JobRunner: Sendable {
    let spool: SpoolDirectory
    let journal: JournalWriter
    let launcher: ProcessLauncher
    let pool: TaskSlotPool
    let configuration: DaemonConfiguration
    /// Tasks switch to their submitter only when the daemon is root (SPEC §8).
    let daemonIsRoot: Bool
    /// gatherd's cgroup subtree; nil: process groups only (SPEC §11).
    let cgroups: CgroupTree?
    /// Task ends, running processes and claim latencies go here (SPEC §9).
    let metrics: Metrics
    /// Runs the `executor: slurm` tasks (SPEC §12).
    var slurm: Slurm? = nil

    /// Runs the job to its end.
    /// - Parameter start: the claimed job (its `state.json` already says
    ///   `running`) with its resolved settings, the journal's job fields (the
    ///   run ID is the record's), the control the supervisor cancels through
    ///   (request, shutdown), and the progress kept in `state.json`.
    func run(_ start: JobStart) async -> JobRunEnd {
        let (job, identity, control, progress) = (start.job, start.identity, start.control, start.progress)
        let file = job.job
        let policy = file.policy
        let startedAt = Timestamp.now()
        let clock = ContinuousClock()
        let began = clock.now
        let jobCgroup: Cgroup?
        switch makeJobCgroup(job) {
        case .success(let cgroup):
            jobCgroup = cgroup
        case .failure(let reason):
            // Never run what asked for a limit without it, nor a job whose
            // processes could escape because its cgroup could not be made.
            progress.close()
            let compound = CompoundError(failures: [TaskFailure(task: "job", error: reason, outcome: .failed)])
            let record = JobRecordBuilder.unrunnable(job, run: identity.run, startedAt: startedAt, error: compound)
            journal.log(.jobFailed(identity, policy: policy, error: compound))
            return .record(record)
        }
        journal.log(.jobStarted(identity, tasks: file.tasks.count, policy: policy))

        let firstStart = FirstTaskStart(seen: start.seen, metrics: metrics)
        let tasks = file.tasks.enumerated().map { index, task in
            makeTask(
                task, index: index, of: job, settings: start.settings, identity: identity, progress: progress,
                cgroup: jobCgroup, firstStart: firstStart)
        }
        let options = GatherOptions(
            policy: policy, maxParallel: file.maxParallel, timeout: file.timeout,
            slotPool: pool, control: control,
            onEvent: { event in self.log(event, identity: identity, policy: policy, progress: progress) })
        let results: GatheredResults<ProcessExit>
        let gathered: Result<GatheredResults<ProcessExit>, any Error>
        do {
            gathered = .success(try await gather(tasks, options: options))
        } catch {
            gathered = .failure(error)
        }
        let usage = await endJobCgroup(jobCgroup, identity: identity)
        do {
            results = try gathered.get()
        } catch {
            // The validator checks the graph first; this is a last line of defence.
            let compound = CompoundError(failures: [TaskFailure(task: "job", error: error, outcome: .failed)])
            let record = JobRecordBuilder.unrunnable(job, run: identity.run, startedAt: startedAt, error: compound)
            journal.log(.jobFailed(identity, policy: policy, error: compound))
            return .record(record)
        }
        progress.close()
        let state = results.state
        if state == .interrupted, file.restartable {
            journal.log(.jobInterrupted(identity, policy: policy, reason: "daemon stopped; it runs again at the next start"))
            return .keepForRestart
        }
        let record = JobRecordBuilder.record(
            job, run: identity.run, startedAt: startedAt, results: results, progress: progress, usage: usage)
        switch state {
        case .succeeded:
            journal.log(.jobSucceeded(
                identity, tasks: file.tasks.count, policy: policy, elapsed: began.duration(to: clock.now), usage: usage,
                firstSuccess: results.firstSuccess.map { ($0, results.cancelledCount, results.skippedCount) }))
        case .failed:
            if let error = results.compoundError { journal.log(.jobFailed(identity, policy: policy, error: error, usage: usage)) }
        case .cancelled:
            journal.log(.jobCancelled(identity, policy: policy, usage: usage))
        case .interrupted:
            journal.log(.jobInterrupted(identity, policy: policy, usage: usage))
        case .rejected:
            break
        }
        return .record(record)
    }

    /// The job's cgroup with its limits (nil without cgroups), or why the job
    /// cannot run: a limit with no cgroups to enforce it (a job recovered
    /// after a restart with `--cgroup off`), or a cgroup that cannot be made.
    private func makeJobCgroup(_ job: ClaimedJob) -> Result<Cgroup?, JobCgroupError> {
        let file = job.job
        guard let cgroups else {
            let limited = ([file.limits] + file.tasks.map(\.limits)).first { !$0.isEmpty }
            guard let limited, let key = limited.needs.first?.key else { return .success(nil) }
            return .failure(JobCgroupError("\(key): cannot be enforced here: cgroups are off"))
        }
        do {
            return .success(try cgroups.makeJob(job.id, limits: file.limits))
        } catch {
            return .failure(JobCgroupError("cannot make the job's cgroup: \(error)"))
        }
    }

    /// At the job's end: its usage (SPEC §6), then its cgroup removed. Each
    /// task's cgroup was emptied and removed at the task's end; whatever a
    /// stuck task left is killed here, and a cgroup that still cannot go
    /// is logged and left to the next start's recovery.
    private func endJobCgroup(_ cgroup: Cgroup?, identity: JobIdentity) async -> CgroupUsage? {
        guard let cgroup else { return nil }
        // Harmless on an empty cgroup; never skipped on a guess.
        cgroup.kill()
        _ = await launcher.waitUntilEmpty(cgroup, within: .seconds(5))
        let usage = cgroup.usage()
        if let error = cgroup.removeTree() {
            journal.log(.daemonNotice(
                "job \(identity.id): cannot remove its cgroup \(cgroup.path): \(error); the next start removes it",
                warning: true))
        }
        return usage
    }

    private func makeTask(
        _ task: JobFile.Task, index: Int, of job: ClaimedJob, settings: JobSettings, identity: JobIdentity,
        progress: JobProgress, cgroup: Cgroup?, firstStart: FirstTaskStart
    ) -> GatherTask<ProcessExit> {
        let metrics = self.metrics
        let file = job.job
        let account = job.runAs
        var taskEnvironment = task.env
        // srun reads SLURM_CONF: the daemon's own, so that the attempt runs
        // on the cluster its squeue and scancel ask (a job's env cannot set
        // SLURM_* for a Slurm task: the validator rejects it).
        if file.executor(of: task) == .slurm, let conf = slurm?.commands.conf { taskEnvironment.append(("SLURM_CONF", conf)) }
        let environment = TaskEnvironment(
            user: account.name, home: account.home, shell: account.shell, job: job.id, task: task.name,
            jobEnvironment: file.env, taskEnvironment: taskEnvironment)
        let spec = ProcessTaskSpec(
            name: task.name, command: task.command, environment: environment, cwd: file.workingDirectory(of: task),
            identity: daemonIsRoot
                ? ProcessIdentity(uid: account.uid, gid: account.gid, groups: account.groups, name: account.name) : nil,
            successExitCodes: Set(task.successExitCodes),
            killGrace: settings.killGrace,
            record: progress.spawnRecord(index: index, task: task.name),
            cgroup: cgroup.map { TaskCgroupPlan(job: $0, limits: task.limits, jobLimits: file.limits) },
            executor: slurmExecutor(task, index: index, of: job, settings: settings, identity: identity, progress: progress))
        let output = file.output == .discard ? nil : journal.outputHandlers(task: task.name, identity: identity)
        return .process(
            spec, after: task.after, timeout: task.timeout, retries: task.retries,
            retryDelay: task.retryDelay, retryDelayMax: task.retryDelayMax, retryExitCodes: task.retryExitCodes.map(Set.init),
            finally: task.isFinally, launcher: launcher, output: output,
            onEvent: { event in
                switch event {
                case .started(let name, let attempt, let pid, _, let startTime, let recordError):
                    metrics.processStarted()
                    firstStart.taskStarted()
                    progress.processStarted(
                        index: index, task: name, attempt: attempt, pid: pid, startTime: startTime, recordError: recordError)
                case .exited(let name, let attempt, let exit):
                    metrics.processExited()
                    progress.processEnded(index: index, task: name, attempt: attempt, exit: exit)
                case .spawnFailed:
                    break
                }
            })
    }


    /// The `srun` wrapper of an `executor: slurm` task (SPEC §12); nil for a
    /// local task. Without the Slurm tools (gone since the claim's probe)
    /// each attempt runs `srun` by name and fails to start: `spawn-failed`.
    private func slurmExecutor(
        _ task: JobFile.Task, index: Int, of job: ClaimedJob, settings: JobSettings, identity: JobIdentity,
        progress: JobProgress
    ) -> SlurmExecutor? {
        let file = job.job
        guard file.executor(of: task) == .slurm, let slurm else { return nil }
        let tools = slurm.tools ?? SlurmTools(srun: "srun", squeue: "squeue", scancel: "scancel", scontrol: "scontrol")
        let name = task.name
        return SlurmExecutor(
            slurm: slurm, tools: tools, jobID: job.id, task: name, index: index, run: identity.run,
            options: file.slurmOptions(of: task), timeout: task.timeout, killGrace: settings.killGrace,
            cwd: file.workingDirectory(of: task),
            learned: { attempt, slurmJob in progress.slurmJob(index: index, task: name, attempt: attempt, job: slurmJob) })
    }

    /// The engine's events as SPEC §7 entries.
    private func log(_ event: GatherEvent, identity: JobIdentity, policy: GatherPolicy, progress: JobProgress) {
        switch event {
        case .attemptStarted:
            break
        case .attemptWillRetry(let failure, let attempt, let retry, let retries, let delay):
            let exit = processExit(of: failure, attempt: attempt, progress: progress)
            journal.log(.taskRetry(
                identity, task: failure.task, attempt: attempt, outcome: failure.outcome,
                errorLine: failure.description, retry: retry, of: retries, delay: delay,
                exitStatus: exit?.status.exitCode, signal: exit?.status.signalName, slurmJob: exit?.executorJob))
        case .taskEnded(let result):
            metrics.taskEnded(result.outcome)
            progress.taskEnded(result)
            if let failure = result.failure {
                let exit = processExit(of: failure, attempt: result.attempts, progress: progress)
                journal.log(.taskError(
                    identity, task: result.name, attempt: result.attempts, outcome: result.outcome,
                    errorLine: failure.description, exitStatus: exit?.status.exitCode, signal: exit?.status.signalName,
                    usage: exit?.usage, slurmJob: exit?.executorJob))
            } else if result.outcome == .succeeded, configuration.debug {
                let exit = progress.exit(of: result.name, attempt: result.attempts)
                journal.log(.taskSucceeded(
                    identity, task: result.name, attempt: result.attempts, elapsed: result.duration ?? .zero,
                    usage: exit?.usage, slurmJob: exit?.executorJob))
            }
        case .firstError(let failure):
            // SPEC §2: only these two report the job failing at its first error.
            guard policy == .failFast || policy == .cancelSiblings else { return }
            progress.failing()
            journal.log(.jobFailing(identity, policy: policy, firstError: failure.description))
        }
    }

    /// What `waitpid` saw for a failed attempt, for the entry's exit status and
    /// signal (SPEC §7: as in the record). A timeout is the engine's error, not
    /// the process's, so its exit (the SIGTERM gatherd sent) comes from `progress`.
    private func processExit(of failure: TaskFailure, attempt: Int, progress: JobProgress) -> ProcessExit? {
        if let error = failure.error as? ProcessTaskError { return error.exit }
        return progress.exit(of: failure.task, attempt: attempt)
    }
}

/// Times a job's claim (SPEC §9 `gatherd_claim_seconds`): from its file seen
/// to the first of its task processes started, observed once per run.
final class FirstTaskStart: Sendable {
    private let seen: ContinuousClock.Instant?
    private let metrics: Metrics
    private let started = Atomic(false)

    init(seen: ContinuousClock.Instant?, metrics: Metrics) {
        self.seen = seen
        self.metrics = metrics
    }

    func taskStarted() {
        guard let seen, started.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        let elapsed = seen.duration(to: .now)
        metrics.claimed(after: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

/// Why a job's cgroup could not be had; the job's error line (`job: …`).
struct JobCgroupError: Error, Sendable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
