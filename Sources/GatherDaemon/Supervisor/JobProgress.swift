import Gather
import GatherProcess
import GatherSpool
import GatherSystem
import Synchronization

/// The live side of one running job, shared by its task bodies (which run on
/// the engine's child tasks and the launcher's threads) and the supervisor:
/// the job's progress log (``ProgressLog``, `state.log`) and the count of
/// running processes for `STATUS=`.
///
/// Nothing here costs more as the job grows: tasks are found by index (the
/// engine's events name them once, through a table made at the start), a
/// process start or end appends one line to the log, and the lock guards a
/// counter and the last exit per task.
final class JobProgress: Sendable {
    private struct State {
        var running = 0
        /// The last attempt that exited, per task index: a timed-out task's
        /// error is the engine's, so its journal entry takes the signal from here.
        var exits: [Int: (attempt: Int, exit: ProcessExit)] = [:]
    }
    private let state = Mutex(State())
    let log: ProgressLog
    /// Task name → index in the job file.
    private let indices: [String: Int]

    init(log: ProgressLog, tasks: [String]) {
        self.log = log
        var indices: [String: Int] = [:]
        indices.reserveCapacity(tasks.count)
        for (index, name) in tasks.enumerated() { indices[name] = index }
        self.indices = indices
    }

    /// Processes of this job running now.
    var runningProcesses: Int { state.withLock { $0.running } }

    /// The line each attempt of task `index` appends to the log before it
    /// runs anything (``SpawnRecord``).
    func spawnRecord(index: Int, task: String) -> @Sendable (Int) -> SpawnRecord? {
        let fd = log.descriptor
        let exitPrefix = ProgressLog.exitedPrefix(index: index, task: task)
        return { attempt in
            SpawnRecord(fd: fd, prefix: ProgressLog.startedPrefix(index: index, task: task, attempt: attempt), exitPrefix: exitPrefix)
        }
    }

    /// An attempt's process started. Its child has logged it already, unless
    /// it could not (`recordError`): then the line is written here.
    func processStarted(index: Int, task: String, attempt: Int, pid: Int32, startTime: UInt64?, recordError: Errno?) {
        state.withLock { $0.running += 1 }
        if recordError != nil {
            log.started(index: index, task: task, attempt: attempt, pgid: pid, startTime: startTime ?? 0)
        }
    }

    func processEnded(index: Int, task: String, attempt: Int, exit: ProcessExit) {
        state.withLock { state in
            state.running = max(0, state.running - 1)
            state.exits[index] = (attempt, exit)
        }
        log.exited(index: index, task: task, pgid: exit.pid)
    }

    /// What `waitpid` saw for `attempt` of `task`, if that attempt ran and ended.
    func exit(of task: String, attempt: Int) -> ProcessExit? {
        guard let index = indices[task] else { return nil }
        return state.withLock { state in
            guard let last = state.exits[index], last.attempt == attempt else { return nil }
            return last.exit
        }
    }

    func taskEnded(_ result: TaskResult) {
        guard let index = indices[result.name] else { return }
        log.ended(index: index, task: result.name, status: .ended(result.outcome), attempts: result.attempts)
    }

    /// Attempt `attempt` of task `index` runs as Slurm job `job`: in the log
    /// at once, so recovery after a crash cancels it by this ID (SPEC §12).
    func slurmJob(index: Int, task: String, attempt: Int, job: Int64) {
        log.slurmJob(index: index, task: task, attempt: attempt, job: job)
    }

    func failing() {
        log.failing()
    }

    /// The first log write that failed since the last call, if any
    /// (SPEC §3: a spool write error pauses claiming; the supervisor looks once a second).
    func takeWriteError() -> SpoolError? { log.takeWriteError() }

    /// Appends what a failed write kept (the supervisor's retry while claiming is paused).
    /// - Throws: the write's error; the lines stay kept.
    func retryWrite() throws(SpoolError) { try log.retry() }

    /// No more writes: the job's record takes over.
    func close() { log.close() }
}

extension SpoolError {
    /// The cause as the spool write error entry states it (`No space left on
    /// device`), or the whole description when no system call failed.
    var reason: String { errno.map { "\($0)" } ?? description }

    /// What failed and why, without the code's name (`STATUS=` and the journal
    /// entry already say "spool write error"): `write active/x/.state.json.tmp: No space left on device`.
    var located: String { "\(context): \(reason)" }
}
