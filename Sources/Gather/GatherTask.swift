/// One named task of a gathered group: an `async` closure run once per attempt.
public struct GatherTask<Value: Sendable>: Sendable {
    /// Unique in its group; used in error lines (`name: …`) and reasons.
    public var name: String
    /// Tasks that must all have `succeeded` before this one starts; if one of
    /// them ends otherwise, this task is `skipped`.
    public var after: [String]
    /// Limit for each attempt, at least 1 ms; the attempt is stopped and ends `timed-out`.
    public var timeout: Duration?
    /// Further attempts after an attempt with an error outcome (0 … 100).
    public var retries: Int
    /// Wait before the first retry, doubled for each next one, at most 10
    /// minutes; 0 or at least 1 ms.
    public var retryDelay: Duration
    /// The work. It reports only what happened to it: a value, or an error whose
    /// description is the text after `name: ` in the error line. Conform the error
    /// to ``GatherTaskError`` to report an outcome other than `failed`.
    public var body: @Sendable (GatherAttempt) async throws -> Value

    /// A task; its settings are checked when the group is gathered, and one
    /// out of range makes ``gather(_:options:)->GatheredResults<Value>`` throw a ``GatherDefinitionError``.
    ///
    /// - Parameters:
    ///   - name: the task's name, unique in its group.
    ///   - after: names of tasks that must succeed first.
    ///   - timeout: limit per attempt, at least 1 ms (`nil`: none).
    ///   - retries: further attempts after an error, 0 … 100.
    ///   - retryDelay: delay before the first retry (doubled each time, capped
    ///     at 10 minutes), 0 or at least 1 ms.
    ///   - body: the work; it may register a stop hook on the ``GatherAttempt`` it is given.
    public init(
        _ name: String,
        after: [String] = [],
        timeout: Duration? = nil,
        retries: Int = 0,
        retryDelay: Duration = .seconds(1),
        body: @escaping @Sendable (GatherAttempt) async throws -> Value
    ) {
        self.name = name
        self.after = after
        self.timeout = timeout
        self.retries = retries
        self.retryDelay = retryDelay
        self.body = body
    }

    /// The delay before retry number `retry` (1-based): `retryDelay` doubled
    /// `retry - 1` times, at most 10 minutes.
    public func delay(beforeRetry retry: Int) -> Duration {
        RetryPolicy(retries: retries, retryDelay: retryDelay).delay(beforeRetry: retry)
    }

    /// The same task with its value kept as `any Sendable`, so that tasks of
    /// different value types can be gathered in one group. The results give
    /// each value back with its own type through the original task:
    /// ``GatheredResults/subscript(_:)``.
    @inlinable
    public var erased: GatherTask<any Sendable> {
        let body = self.body
        var task = GatherTask<any Sendable>(name) { attempt in try await body(attempt) }
        task.after = after
        task.timeout = timeout
        task.retries = retries
        task.retryDelay = retryDelay
        return task
    }
}

/// An error a task body throws to report an outcome other than `failed`
/// (the process layer reports `killed` and `spawn-failed` this way).
public protocol GatherTaskError: Error {
    /// One of the error outcomes: `failed`, `killed`, `spawn-failed`.
    var outcome: TaskOutcome { get }
}

/// Why the engine asks a running attempt to stop. The engine decides the
/// attempt's outcome from this, whatever the body then reports.
public enum StopRequest: Sendable, Hashable {
    /// The attempt's own `timeout` passed: outcome `timed-out`.
    case timedOut(Duration)
    /// The group's deadline passed: outcome `timed-out`, line ends `(job timeout)`.
    case jobTimedOut(Duration)
    /// A policy or an outside request stopped it: outcome `cancelled`.
    case cancelled(TaskReason)
}

/// The error recorded for a task the engine stopped for time.
public struct GatherTimeout: Error, Sendable, Hashable, CustomStringConvertible {
    /// The configured limit.
    public let limit: Duration
    /// True when the group's deadline, not the task's own timeout, ran out.
    public let isJobDeadline: Bool

    /// - Parameters:
    ///   - limit: the limit that ran out.
    ///   - isJobDeadline: true for the group's deadline, false for the task's own timeout.
    public init(limit: Duration, isJobDeadline: Bool) {
        self.limit = limit
        self.isJobDeadline = isJobDeadline
    }

    /// `timed out after 5s`, with ` (job timeout)` for the group's deadline.
    public var description: String {
        "timed out after \(DurationText.format(limit))" + (isJobDeadline ? " (job timeout)" : "")
    }
}
