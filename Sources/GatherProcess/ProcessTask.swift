import Gather
import GatherSystem
import Glibc
import Synchronization

/// What happened to one attempt's process, for `state.json` and the record.
public enum ProcessEvent: Sendable {
    /// The process started: pid (= process group), its start time from
    /// `/proc/PID/stat` field 22 (nil if it could not be read), and why its
    /// line could not be appended to the spec's ``ProcessTaskSpec/record`` log
    /// (nil: it was, or none was asked for).
    case started(task: String, attempt: Int, pid: Int32, processGroup: Int32, startTime: UInt64?, recordError: Errno?)
    /// It ended (reaped, group stopped, output read).
    case exited(task: String, attempt: Int, ProcessExit)
    /// It could not start.
    case spawnFailed(task: String, attempt: Int, SpawnError)
}

/// Where a task's attempts run in the job's cgroup (SPEC §11): each attempt
/// in a fresh `task-NAME` below `job`, made with the task's limits just
/// before the spawn and removed once empty, after its usage was read.
public struct TaskCgroupPlan: Sendable {
    /// The job's cgroup.
    public var job: Cgroup
    /// The task's own `memory_max`, `cpu_max`, `tasks_max`.
    public var limits: ResourceLimits
    /// The job's `memory_max`, for the OOM line of a kill inside it.
    public var jobMemoryMax: UInt64?
    /// The task's usage over its attempts so far.
    let total = UsageTotal()

    public init(job: Cgroup, limits: ResourceLimits, jobLimits: ResourceLimits) {
        self.job = job
        self.limits = limits
        self.jobMemoryMax = jobLimits.memoryMax
    }

    /// The `memory_max` (as `512M`) an OOM kill of the attempt in `cgroup`
    /// happened inside, or nil: its main process died of SIGKILL, an OOM
    /// killer ended a process of the task, and a limit was reached — the
    /// task's own when its cgroup's `oom` count grew, else the job's. A kill
    /// by the system-wide OOM killer names no limit and stays `killed by
    /// signal SIGKILL`.
    func oomLimit(of cgroup: Cgroup, status: ExitStatus) -> String? {
        guard status == .signaled(SIGKILL), let task = cgroup.oomEvents(), task.kills > 0 else { return nil }
        if let own = limits.memoryMax, task.oom > 0 { return ResourceLimits.sizeText(own) }
        if let jobMax = jobMemoryMax, (job.oomEvents()?.oom ?? 0) > 0 { return ResourceLimits.sizeText(jobMax) }
        return nil
    }

    /// The cgroup name of task `name` (a bare name could be `cgroup.procs`).
    public static func cgroupName(of task: String) -> String { CgroupTree.taskPrefix + task }
}

/// A task's usage summed over its attempts (attempts run one after another).
final class UsageTotal: Sendable {
    private let total = Mutex<CgroupUsage?>(nil)
    func add(_ usage: CgroupUsage) -> CgroupUsage {
        total.withLock { total in
            let sum = total.map { $0.adding(usage) } ?? usage
            total = sum
            return sum
        }
    }
}

/// A job task as a process: everything the glue needs to run its attempts.
public struct ProcessTaskSpec: Sendable {
    /// The task's name.
    public var name: String
    /// argv (SPEC §4 `command`).
    public var command: [String]
    /// The environment of SPEC §4; `GATHER_ATTEMPT` is filled per attempt.
    public var environment: TaskEnvironment
    /// Working directory.
    public var cwd: String
    /// Run as; nil: as the daemon.
    public var identity: ProcessIdentity?
    /// Exit statuses that count as success (SPEC default `[0]`).
    public var successExitCodes: Set<Int32>
    /// SIGTERM → SIGKILL grace for every stop: the job's resolved `kill_grace`.
    /// No default here: the SPEC's lives in `JobFile.defaultKillGrace`, which
    /// this target cannot see, and a second copy could drift from it.
    public var killGrace: Duration
    /// How long to wait for the pipes to close after the group is gone.
    public var outputGrace: Duration
    /// Each attempt's line in a progress log, which the child appends before
    /// it runs anything (``SpawnRecord``); nil: none.
    public var record: (@Sendable (_ attempt: Int) -> SpawnRecord?)?
    /// The cgroup each attempt runs in; nil: process groups only.
    public var cgroup: TaskCgroupPlan?
    /// Runs each attempt through another program (`srun`); nil: the command itself.
    public var executor: (any AttemptExecutor)?

    /// - Parameters:
    ///   - killGrace: the job's `kill_grace` as the daemon resolved it
    ///     (`JobSettings`); there is deliberately no default.
    ///   - outputGrace: how long the pipes may stay open after the group is gone.
    public init(
        name: String, command: [String], environment: TaskEnvironment, cwd: String = "/",
        identity: ProcessIdentity? = nil, successExitCodes: Set<Int32> = [0],
        killGrace: Duration, outputGrace: Duration = .seconds(2),
        record: (@Sendable (_ attempt: Int) -> SpawnRecord?)? = nil,
        cgroup: TaskCgroupPlan? = nil, executor: (any AttemptExecutor)? = nil
    ) {
        self.executor = executor
        self.record = record
        self.cgroup = cgroup
        self.name = name
        self.command = command
        self.environment = environment
        self.cwd = cwd
        self.identity = identity
        self.successExitCodes = successExitCodes
        self.killGrace = killGrace
        self.outputGrace = outputGrace
    }
}

extension GatherTask where Value == ProcessExit {
    /// A task of the `Gather` engine whose attempts run `spec`'s process.
    ///
    /// Each attempt spawns the process (`GATHER_ATTEMPT` = attempt number),
    /// stops its group (SIGTERM, SIGKILL after `killGrace`) when the engine
    /// asks (`onStop`: cancel-siblings, timeouts) or the Swift task is
    /// cancelled, waits for the exit, then stops whatever is left in the group
    /// the same way. It returns the ``ProcessExit`` when the status is in
    /// `successExitCodes` and throws a ``ProcessTaskError`` otherwise
    /// (`exited with status 1`, `killed by signal SIGKILL`, `could not start: …`),
    /// or `CancellationError` when only Swift cancellation stopped it. Either
    /// way the engine's `lastAttempts` hold the exit for the record.
    ///
    /// - Parameters:
    ///   - spec: the process and its stop settings.
    ///   - after, timeout, retries, retryDelay, retryDelayMax: as for any ``GatherTask``.
    ///   - retryExitCodes: retry only an exit with one of these statuses (any
    ///     other status, a signal, a timeout, a spawn failure is final); nil:
    ///     retry every error.
    ///   - finally: a clean-up task (``GatherTask/isFinally``).
    ///   - launcher: usually ``ProcessLauncher/shared``.
    ///   - output: makes the handler of each attempt's output lines from the
    ///     attempt number (see ``ProcessOutputHandler``); nil discards.
    ///   - onEvent: called when a process starts, ends or cannot start.
    public static func process(
        _ spec: ProcessTaskSpec,
        after: [String] = [],
        timeout: Duration? = nil,
        retries: Int = 0,
        retryDelay: Duration = .seconds(1),
        retryDelayMax: Duration = .seconds(600),
        retryExitCodes: Set<Int32>? = nil,
        finally: Bool = false,
        launcher: ProcessLauncher,
        output: (@Sendable (_ attempt: Int) -> ProcessOutputHandler?)? = nil,
        onEvent: (@Sendable (ProcessEvent) -> Void)? = nil
    ) -> GatherTask<ProcessExit> {
        GatherTask(
            spec.name, after: after, timeout: timeout, retries: retries, retryDelay: retryDelay,
            retryDelayMax: retryDelayMax, retryWhen: retryExitCodes.map(exitedWithOneOf), finally: finally
        ) { attempt in
            try await runAttempt(spec, attempt: attempt, launcher: launcher, output: output, onEvent: onEvent)
        }
    }

    /// The retry rule of `retry_exit_codes`: only a process that exited with
    /// one of `codes` is retried.
    private static func exitedWithOneOf(_ codes: Set<Int32>) -> @Sendable (TaskFailure) -> Bool {
        { failure in
            guard let error = failure.error as? ProcessTaskError, error.code == .exited,
                let status = error.exit?.status.exitCode
            else { return false }
            return codes.contains(status)
        }
    }

    private static func runAttempt(
        _ spec: ProcessTaskSpec, attempt: GatherAttempt, launcher: ProcessLauncher,
        output: (@Sendable (Int) -> ProcessOutputHandler?)?, onEvent: (@Sendable (ProcessEvent) -> Void)?
    ) async throws -> ProcessExit {
        let cgroup: Cgroup?
        do {
            cgroup = try spec.cgroup.map { plan throws(SpawnError) in try makeCgroup(plan, task: spec.name) }
        } catch {
            onEvent?(.spawnFailed(task: spec.name, attempt: attempt.number, error))
            throw ProcessTaskError(spawnError: error)
        }
        let command = spec.executor?.command(wrapping: spec.command, attempt: attempt.number) ?? spec.command
        let processSpec = ProcessSpec(
            command: command, environment: spec.environment.entries(attempt: attempt.number),
            cwd: spec.cwd, identity: spec.identity, record: spec.record?(attempt.number), cgroup: cgroup)
        let process: RunningProcess
        do {
            process = try launcher.spawn(processSpec, output: output?(attempt.number))
        } catch {
            cgroup?.remove()
            onEvent?(.spawnFailed(task: spec.name, attempt: attempt.number, error))
            throw ProcessTaskError(spawnError: error)
        }
        if let onEvent {
            onEvent(.started(task: spec.name, attempt: attempt.number, pid: process.pid,
                             processGroup: process.processGroup, startTime: process.startTime,
                             recordError: process.recordError))
        }
        let grace = spec.killGrace
        let executed = spec.executor?.started(attempt: attempt.number, process: process)
        attempt.onStop { _ in
            process.terminate(grace: grace)
            executed?.stopping(grace: grace)
        }
        let status = await withTaskCancellationHandler {
            await process.exitStatus()
        } onCancel: {
            process.terminate(grace: grace)
            executed?.stopping(grace: grace)
        }
        // SPEC §5: a task ends when its main process exits. From here a stop
        // request (a sibling failed, a timeout) no longer changes its outcome
        // or its duration, while what is left in its group is stopped.
        let duration = process.spawnedAt.duration(to: .now)
        let stopRequest = attempt.workEnded()
        let cancelledBeforeExit = Task.isCancelled
        await process.stopRemaining(grace: grace)
        await process.outputFinished(within: spec.outputGrace)
        let executorJob = await executed?.ended(status: status, stopped: stopRequest != nil || cancelledBeforeExit)
        var usage: CgroupUsage?
        var oomLimit: String?
        if let cgroup, let plan = spec.cgroup {
            // Empty now (or stuck past the kill: the job's end tries again).
            usage = plan.total.add(cgroup.usage())
            oomLimit = plan.oomLimit(of: cgroup, status: status)
            cgroup.remove()
        }
        let exit = ProcessExit(
            pid: process.pid, status: status, stderrTail: process.stderrTail, duration: duration, usage: usage,
            oomLimit: oomLimit, executorJob: executorJob)
        onEvent?(.exited(task: spec.name, attempt: attempt.number, exit))
        // Stopped by the outer task's cancellation alone: the engine records `cancelled`.
        if stopRequest == nil, cancelledBeforeExit { throw CancellationError() }
        if case .exited(let code) = status, spec.successExitCodes.contains(code) { return exit }
        throw ProcessTaskError(exit: exit)
    }

    /// The attempt's `task-NAME` with the task's limits; a failure is the
    /// attempt's `spawn-failed` (`could not start: Permission denied (cgroup …)`).
    private static func makeCgroup(_ plan: TaskCgroupPlan, task: String) throws(SpawnError) -> Cgroup {
        do {
            return try plan.job.makeChild(TaskCgroupPlan.cgroupName(of: task), limits: plan.limits)
        } catch {
            throw SpawnError(code: .cgroup, errno: error.errno.rawValue, context: "cgroup \(error.call)")
        }
    }
}
