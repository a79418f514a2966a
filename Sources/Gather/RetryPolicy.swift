/// How a task is retried. The scheduler keeps one only for the tasks that
/// have retries: no per-task copy of all the tasks' settings.
@usableFromInline
struct RetryPolicy: Sendable {
    let retries: Int
    let retryDelay: Duration
    /// The cap of the doubled delay.
    let retryDelayMax: Duration
    /// Which errors are worth another attempt; nil: every error.
    let retryWhen: (@Sendable (TaskFailure) -> Bool)?

    @usableFromInline
    init(
        retries: Int, retryDelay: Duration, retryDelayMax: Duration = .seconds(600),
        retryWhen: (@Sendable (TaskFailure) -> Bool)? = nil
    ) {
        self.retries = retries
        self.retryDelay = retryDelay
        self.retryDelayMax = retryDelayMax
        self.retryWhen = retryWhen
    }

    /// The delay before retry number `retry` (1-based): `retryDelay` doubled
    /// `retry - 1` times, at most `retryDelayMax`.
    func delay(beforeRetry retry: Int) -> Duration {
        let cap = max(retryDelayMax, .zero)
        var delay = retryDelay
        var step = 1
        while step < retry && delay < cap {
            delay = delay * 2
            step += 1
        }
        return min(delay, cap)
    }

    /// Whether an attempt that ended with `failure` may be retried (retries
    /// left aside): an error the task's rule does not list is final at once.
    func allowsRetry(of failure: TaskFailure) -> Bool {
        retryWhen?(failure) ?? true
    }
}
