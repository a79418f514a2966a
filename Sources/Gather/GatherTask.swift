/// One named task of a gathered group: an `async` closure run once per attempt.
///
/// A task is 40 bytes: its name, its body, and one reference to the settings
/// few tasks change (`nil` while all are at their defaults). A group of
/// 100,000 tasks is an array of 4 MB, not 10 MB, to build, read and free.
public struct GatherTask<Value: Sendable>: Sendable {
    /// Unique in its group; used in error lines (`name: …`) and reasons.
    public var name: String
    /// The work. It reports only what happened to it: a value, or an error whose
    /// description is the text after `name: ` in the error line. Conform the error
    /// to ``GatherTaskError`` to report an outcome other than `failed`.
    public var body: @Sendable (GatherAttempt) async throws -> Value
    /// Every setting but the name and the body; `nil` when all have their defaults.
    @usableFromInline
    var settings: TaskSettings?

    /// Tasks that must all have `succeeded` before this one starts; if one of
    /// them ends otherwise, this task is `skipped`.
    public var after: [String] {
        get { settings?.values.after ?? [] }
        set { change { $0.after = newValue } }
    }
    /// Limit for each attempt, at least 1 ms; the attempt is stopped and ends `timed-out`.
    public var timeout: Duration? {
        get { settings?.values.timeout }
        set { change { $0.timeout = newValue } }
    }
    /// Further attempts after an attempt with an error outcome (0 … 100).
    public var retries: Int {
        get { settings?.values.retries ?? 0 }
        set { change { $0.retries = newValue } }
    }
    /// Wait before the first retry, doubled for each next one, at most
    /// ``retryDelayMax``; 0 or at least 1 ms.
    public var retryDelay: Duration {
        get { settings?.values.retryDelay ?? TaskSettings.defaults.retryDelay }
        set { change { $0.retryDelay = newValue } }
    }
    /// The cap of the doubled retry delay (10 minutes unless given).
    public var retryDelayMax: Duration {
        get { settings?.values.retryDelayMax ?? TaskSettings.defaults.retryDelayMax }
        set { change { $0.retryDelayMax = newValue } }
    }
    /// Which errors are retried: an attempt whose failure this returns false
    /// for is final at once, retries left or not (the process layer retries
    /// only listed exit statuses this way). `nil`: every error is retried.
    public var retryWhen: (@Sendable (TaskFailure) -> Bool)? {
        get { settings?.values.retryWhen }
        set { change { $0.retryWhen = newValue } }
    }
    /// A clean-up task, like a `finally:` clause: it starts once every task
    /// that is not a clean-up task has ended, whatever the policy and their
    /// outcomes — also after the policy or a ``GatherControl`` cancel request
    /// stopped them; not after the group's deadline, a `.daemonStopping`
    /// cancel, or cancellation of the calling Swift task. No task may name a
    /// clean-up task in `after`. Its errors are errors like any other.
    public var isFinally: Bool {
        get { settings?.values.isFinally ?? false }
        set { change { $0.isFinally = newValue } }
    }

    /// A task; its settings are checked when the group is gathered, and one
    /// out of range makes ``gather(_:options:)->GatheredResults<Value>`` throw a ``GatherDefinitionError``.
    ///
    /// - Parameters:
    ///   - name: the task's name, unique in its group.
    ///   - after: names of tasks that must succeed first.
    ///   - timeout: limit per attempt, at least 1 ms (`nil`: none).
    ///   - retries: further attempts after an error, 0 … 100.
    ///   - retryDelay: delay before the first retry (doubled each time, capped
    ///     at `retryDelayMax`), 0 or at least 1 ms.
    ///   - retryDelayMax: the cap of the doubled delay, 0 or at least 1 ms.
    ///   - retryWhen: which failures are retried; nil retries every error.
    ///   - finally: a clean-up task that runs once the other tasks have ended.
    ///   - body: the work; it may register a stop hook on the ``GatherAttempt`` it is given.
    public init(
        _ name: String,
        after: [String] = [],
        timeout: Duration? = nil,
        retries: Int = 0,
        retryDelay: Duration = .seconds(1),
        retryDelayMax: Duration = .seconds(600),
        retryWhen: (@Sendable (TaskFailure) -> Bool)? = nil,
        finally: Bool = false,
        body: @escaping @Sendable (GatherAttempt) async throws -> Value
    ) {
        self.name = name
        self.body = body
        let settings = TaskSettings.Values(
            after: after, timeout: timeout, retries: retries, retryDelay: retryDelay, retryDelayMax: retryDelayMax,
            retryWhen: retryWhen, isFinally: finally)
        self.settings = settings.isDefault ? nil : TaskSettings(settings)
    }

    /// Changes one setting: a new box (another task may share the old one).
    private mutating func change(_ edit: (inout TaskSettings.Values) -> Void) {
        var values = settings?.values ?? TaskSettings.defaults
        edit(&values)
        settings = values.isDefault ? nil : TaskSettings(values)
    }

    /// The delay before retry number `retry` (1-based): `retryDelay` doubled
    /// `retry - 1` times, at most `retryDelayMax`.
    public func delay(beforeRetry retry: Int) -> Duration {
        retryPolicy.delay(beforeRetry: retry)
    }

    /// The retry settings as the scheduler keeps them.
    @usableFromInline
    var retryPolicy: RetryPolicy {
        RetryPolicy(retries: retries, retryDelay: retryDelay, retryDelayMax: retryDelayMax, retryWhen: retryWhen)
    }

    /// The same task with its value kept as `any Sendable`, so that tasks of
    /// different value types can be gathered in one group. The results give
    /// each value back with its own type through the original task:
    /// ``GatheredResults/subscript(_:)``.
    @inlinable
    public var erased: GatherTask<any Sendable> {
        let body = self.body
        var task = GatherTask<any Sendable>(name) { attempt in try await body(attempt) }
        task.settings = settings
        return task
    }
}

/// The settings of a task other than its name and body, kept apart from the
/// task (see ``GatherTask``); never changed once made.
@usableFromInline
final class TaskSettings: Sendable {
    @usableFromInline
    struct Values: Sendable {
        @usableFromInline var after: [String]
        @usableFromInline var timeout: Duration?
        @usableFromInline var retries: Int
        @usableFromInline var retryDelay: Duration
        @usableFromInline var retryDelayMax: Duration
        @usableFromInline var retryWhen: (@Sendable (TaskFailure) -> Bool)?
        @usableFromInline var isFinally: Bool

        @usableFromInline
        var isDefault: Bool {
            after.isEmpty && timeout == nil && retries == 0 && retryDelay == TaskSettings.defaults.retryDelay
                && retryDelayMax == TaskSettings.defaults.retryDelayMax && retryWhen == nil && !isFinally
        }
    }

    /// Every setting at its default: no dependencies, no timeout, no retries
    /// (a retry would wait 1 s, doubled up to 10 minutes), not a clean-up task.
    static let defaults = Values(
        after: [], timeout: nil, retries: 0, retryDelay: .seconds(1), retryDelayMax: .seconds(600), retryWhen: nil,
        isFinally: false)

    @usableFromInline let values: Values

    init(_ values: Values) {
        self.values = values
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
