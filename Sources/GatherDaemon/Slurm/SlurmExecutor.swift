import GatherProcess
import GatherSpool
import Synchronization

/// One task's attempts as Slurm job steps (SPEC §12): each attempt is
///
///     srun --job-name=gatherd/ID/TASK --ntasks=1 --comment=gatherd:RUN:INDEX:ATTEMPT
///          [--partition=…] [--account=…] [--qos=…] [--constraint=…] [--cpus-per-task=N]
///          [--mem=NM] [--time-min=M] [--time=M] --chdir=CWD --export=ALL --quiet -- COMMAND…
///
/// started by gatherd's launcher as the task's user with the task's
/// environment (which `--export=ALL` hands to the step). `--time` is the
/// task's `timeout` plus `kill_grace`, in whole minutes rounded up: a
/// backstop behind gatherd's own timeout.
struct SlurmExecutor: AttemptExecutor {
    let slurm: Slurm
    let tools: SlurmTools
    let jobID: String
    let task: String
    let index: Int
    /// The record's `run`: part of each attempt's comment.
    let run: String
    let options: JobFile.SlurmOptions
    let timeout: Duration?
    let killGrace: Duration
    let cwd: String
    /// Called once per attempt with its Slurm job ID, as soon as it is learned.
    let learned: @Sendable (_ attempt: Int, _ slurmJob: Int64) -> Void

    var name: String { Slurm.jobName(job: jobID, task: task) }

    func command(wrapping command: [String], attempt: Int) -> [String] {
        Self.arguments(
            srun: tools.srun, name: name, comment: Slurm.comment(run: run, index: index, attempt: attempt),
            options: options, timeout: timeout, killGrace: killGrace, cwd: cwd, command: command)
    }

    func started(attempt: Int, process: RunningProcess) -> any ExecutorAttempt {
        SlurmAttempt(
            executor: self, attempt: attempt, comment: Slurm.comment(run: run, index: index, attempt: attempt))
    }

    /// The `srun` argv (see the type's documentation).
    static func arguments(
        srun: String, name: String, comment: String, options: JobFile.SlurmOptions, timeout: Duration?,
        killGrace: Duration, cwd: String, command: [String]
    ) -> [String] {
        var argv = [srun, "--job-name=" + name, "--ntasks=1", "--comment=" + comment]
        if let v = options.partition { argv.append("--partition=" + v) }
        if let v = options.account { argv.append("--account=" + v) }
        if let v = options.qos { argv.append("--qos=" + v) }
        if let v = options.constraint { argv.append("--constraint=" + v) }
        if let v = options.cpusPerTask { argv.append("--cpus-per-task=\(v)") }
        if let v = options.mem { argv.append("--mem=\((v + (1 << 20) - 1) >> 20)M") }
        if let v = options.timeMin { argv.append("--time-min=\(wholeMinutes(v))") }
        if let timeout { argv.append("--time=\(wholeMinutes(timeout + killGrace))") }
        argv += ["--chdir=" + cwd, "--export=ALL", "--quiet", "--"]
        return argv + command
    }

    /// `d` in minutes, rounded up, at least 1 (Slurm's time limits are whole minutes).
    static func wholeMinutes(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        let total = seconds + (attoseconds > 0 ? 1 : 0)
        return max(1, (total + 59) / 60)
    }
}

/// One attempt's Slurm job: its ID once learned, `scancel` by that ID when
/// the attempt is stopped (after `kill_grace`, with the SIGKILL of `srun`,
/// if `srun` has not exited by then) and once `srun` has exited when it was
/// stopped or did not exit on its own (a signal gatherd did not send: a
/// SIGKILL from outside, the OOM killer), so that no Slurm job of an ended
/// attempt remains — a SIGKILLed `srun` leaves its job running.
final class SlurmAttempt: ExecutorAttempt {
    private struct State {
        var id: Int64?
        /// ``stopping(grace:)`` was called (it acts once).
        var stopping = false
        /// ``ended(status:stopped:)`` began: it does the `scancel` from then on.
        var ended = false
    }
    private let executor: SlurmExecutor
    private let attempt: Int
    private let comment: String
    private let state = Mutex(State())

    init(executor: SlurmExecutor, attempt: Int, comment: String) {
        self.executor = executor
        self.attempt = attempt
        self.comment = comment
        executor.slurm.tracker.watch(comment: comment, name: executor.name, tools: executor.tools) { [self] id in
            learn(id)
        }
    }

    /// `job ID: task NAME`: whose Slurm job a warning is about.
    private var whose: String { "job \(executor.jobID): task \(executor.task)" }

    private func learn(_ job: Int64) {
        let first = state.withLock { state in
            defer { state.id = state.id ?? job }
            return state.id == nil
        }
        if first { executor.learned(attempt, job) }
    }

    /// The ID, learned now if the poller has not yet.
    private func resolve() async -> Int64? {
        if let known = state.withLock({ $0.id }) { return known }
        executor.slurm.tracker.forget(comment)
        if let job = await executor.slurm.tracker.lookup(comment: comment, name: executor.name, tools: executor.tools) {
            learn(job)
        }
        return state.withLock { $0.id }
    }

    func stopping(grace: Duration) {
        // Both the stop hook and the cancellation handler may call this (a
        // stop request, then the job's cancellation): only the first acts.
        let first = state.withLock { state in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        // A timer on the launcher's exit thread (no task sleeps through the
        // grace); an `srun` that outlives the grace gets its SIGKILL then, and
        // its job an `scancel` here. Once the attempt has ended, `ended`
        // cancelled the job already.
        executor.slurm.commands.launcher.schedule(after: grace) { [self] in
            guard !state.withLock({ $0.ended }) else { return }
            // The hook and the handler must not wait, and the attempt may end
            // while this runs: so a task of its own.
            Task.detached { [self] in
                if let job = await resolve() { await executor.slurm.cancel([job], whose: whose) }
            }
        }
    }

    func ended(status: ExitStatus, stopped: Bool) async -> Int64? {
        state.withLock { $0.ended = true }
        executor.slurm.tracker.forget(comment)
        let job = await resolve()
        // `srun` exits with its step's status (or with 0/1 of its own); a
        // signal that ended `srun` itself may have left the job running.
        if let job, stopped || status.signalName != nil { await executor.slurm.cancel([job], whose: whose) }
        return job
    }
}
