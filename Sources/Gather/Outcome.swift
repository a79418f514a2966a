/// How one task ended. The raw values are the names used in records,
/// journal fields and `gatherctl` output.
public enum TaskOutcome: String, Sendable, Hashable, CaseIterable, Codable {
    /// The task's last attempt returned a value.
    case succeeded
    /// The task reported an error (for a process: an exit status not in `success_exit_codes`).
    case failed
    /// Ended by a signal gatherd did not send.
    case killed
    /// Stopped by the engine when its own timeout or the group's deadline passed.
    case timedOut = "timed-out"
    /// Never got going: not found, not executable, bad `cwd`, bad user.
    case spawnFailed = "spawn-failed"
    /// Stopped on purpose: a sibling failed, a request, the daemon stopping.
    case cancelled
    /// Never started.
    case skipped

    /// The outcomes that count as errors and appear in the compound error.
    public var isError: Bool {
        switch self {
        case .failed, .killed, .timedOut, .spawnFailed: return true
        case .succeeded, .cancelled, .skipped: return false
        }
    }
}

/// The state of a whole group (a job, to gatherd), from its tasks' outcomes.
public enum JobState: String, Sendable, Hashable, CaseIterable, Codable {
    /// No task had an error, and nothing cancelled the group from outside.
    case succeeded
    /// At least one task had an error outcome, or the deadline passed with nothing running.
    case failed
    /// Cancelled from outside because the daemon was stopping.
    case interrupted
    /// Cancelled from outside by request.
    case cancelled
    /// Never ran: the definition was refused.
    case rejected

    /// Where several states apply the highest wins: `failed` > `interrupted` > `cancelled`.
    /// `rejected` never competes (a rejected job never ran); it ranks highest.
    public var precedence: Int {
        switch self {
        case .succeeded: return 0
        case .cancelled: return 1
        case .interrupted: return 2
        case .failed: return 3
        case .rejected: return 4
        }
    }
}

/// What a group does on its first error.
public enum GatherPolicy: String, Sendable, Hashable, CaseIterable, Codable {
    /// Every task runs; every outcome is gathered (`gather(return_exceptions=True)`).
    case collectAll = "collect-all"
    /// On the first error the job is reported failing; running tasks finish, nothing new starts.
    case failFast = "fail-fast"
    /// On the first error running tasks are cancelled and nothing new starts.
    case cancelSiblings = "cancel-siblings"
}

/// Why a task was cancelled or skipped. `description` is the text
/// written in records and journal entries.
public enum TaskReason: Sendable, Hashable, CustomStringConvertible {
    /// `X failed`: the sibling whose error stopped this task.
    case siblingFailed(String)
    /// `X did not succeed`: the first of `after` that did not succeed.
    case dependencyDidNotSucceed(String)
    /// `job failing`: the job failed by a limit of its own, not by a sibling.
    case jobFailing
    /// `job timed out`: the job deadline passed before the task started.
    case jobTimedOut
    /// `cancelled by request`.
    case cancelledByRequest
    /// `daemon stopping`.
    case daemonStopping
    /// `daemon restarted`: the daemon crashed while the task ran or waited,
    /// and the record was written when it started again.
    case daemonRestarted

    /// The reason as records and journal entries write it (`dump-db failed`).
    public var description: String {
        switch self {
        case .siblingFailed(let name): return "\(name) failed"
        case .dependencyDidNotSucceed(let name): return "\(name) did not succeed"
        case .jobFailing: return "job failing"
        case .jobTimedOut: return "job timed out"
        case .cancelledByRequest: return "cancelled by request"
        case .daemonStopping: return "daemon stopping"
        case .daemonRestarted: return "daemon restarted"
        }
    }
}
