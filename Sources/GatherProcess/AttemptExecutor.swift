/// Runs a task's attempts through another program that gatherd's launcher
/// starts in place of the command, such as `srun` for `executor: slurm`
/// (SPEC §12). The process layer stays the same — pipes, exit status,
/// signals, the stop path — and the executor adds what that program's own
/// job needs: the argv that wraps the command, learning the job's ID, and
/// ending the job where stopping the program may not.
public protocol AttemptExecutor: Sendable {
    /// The argv the launcher starts for attempt `attempt` (1 for the first) of `command`.
    func command(wrapping command: [String], attempt: Int) -> [String]

    /// The wrapping process of `attempt` started as `process`; the returned
    /// handle follows that attempt to its end.
    func started(attempt: Int, process: RunningProcess) -> any ExecutorAttempt
}

/// One attempt run through an ``AttemptExecutor``.
public protocol ExecutorAttempt: Sendable {
    /// gatherd began to stop the attempt: SIGTERM went to the wrapping
    /// process and SIGKILL follows after `grace`. May be called more than
    /// once (a stop request, then the attempt's cancellation): only the first
    /// call may act. Called from any thread; must not block.
    func stopping(grace: Duration)

    /// The wrapping process has exited and its group was stopped. Ends
    /// whatever of the executor's job may outlive it (when `stopped`, or
    /// when the process died of a signal), and returns the job's ID, if
    /// one was learned, for the record and the journal.
    func ended(status: ExitStatus, stopped: Bool) async -> Int64?
}
