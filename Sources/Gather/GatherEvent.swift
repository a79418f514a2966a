/// What a running group reports as it goes, through ``GatherOptions/onEvent``.
/// The callback is called synchronously on the engine's task: keep it short
/// (yield into an `AsyncStream`, append to a buffer).
public enum GatherEvent: Sendable {
    /// An attempt of `task` started (`attempt` is 1-based).
    case attemptStarted(task: String, attempt: Int)
    /// An attempt ended with an error and will be retried after `delay`.
    /// `retry` of `retries`: this is retry number `retry` (`retry 1 of 2 in 5s`).
    case attemptWillRetry(failure: TaskFailure, attempt: Int, retry: Int, retries: Int, delay: Duration)
    /// A task reached its final outcome.
    case taskEnded(TaskResult)
    /// The first final error of the group (the daemon logs "job failing" from it).
    case firstError(TaskFailure)
}
