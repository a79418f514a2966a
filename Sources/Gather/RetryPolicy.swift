/// How a task is retried. The scheduler keeps one only for the tasks that
/// have retries: no per-task copy of all the tasks' settings.
@usableFromInline
struct RetryPolicy: Sendable {
    let retries: Int
    let retryDelay: Duration

    @usableFromInline
    init(retries: Int, retryDelay: Duration) {
        self.retries = retries
        self.retryDelay = retryDelay
    }

    /// The delay before retry number `retry` (1-based): `retryDelay` doubled
    /// `retry - 1` times, at most 10 minutes.
    func delay(beforeRetry retry: Int) -> Duration {
        let cap = Duration.seconds(600)
        var delay = retryDelay
        var step = 1
        while step < retry && delay < cap {
            delay = delay * 2
            step += 1
        }
        return min(delay, cap)
    }
}
