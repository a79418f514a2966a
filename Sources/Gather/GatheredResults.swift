import Synchronization

/// Everything a gathered group produced, in task order — the Swift form of
/// asyncio_tools' `GatheredResults`: successes, failures, error types, and one
/// ``CompoundError`` that holds every failure.
public struct GatheredResults<Value: Sendable>: Sendable {
    /// One result per task, in the order the tasks were given.
    public let tasks: [TaskResult]
    /// What each task's last attempt returned or threw (`nil` if it never ran).
    /// For a cancelled or timed-out task this is what the body reported after the
    /// stop — the outcome is the engine's, but the details (an exit signal) live here.
    public let lastAttempts: [Result<Value, any Error>?]
    /// The group's own error when its deadline passed with no task running
    /// (`job: timed out after 30m`).
    public let jobFailure: TaskFailure?
    /// The first error, in the order the engine saw the tasks end.
    public let firstError: TaskFailure?
    /// Set when the group was cancelled from outside.
    public let cancelReason: TaskReason?
    /// Under `first-success`: the task whose success decided the group.
    public let firstSuccess: String?
    /// Positions by name, built at the first look-up by name.
    private let positions = NamePositions()

    /// - Parameters:
    ///   - tasks: one result per task, in task order.
    ///   - lastAttempts: what each task's last attempt returned, in task order.
    ///   - jobFailure: the group's own deadline error, if any.
    ///   - firstError: the first error the engine saw.
    ///   - cancelReason: why the group was cancelled from outside, if it was.
    ///   - firstSuccess: under `first-success`, the task whose success decided the group.
    public init(
        tasks: [TaskResult], lastAttempts: [Result<Value, any Error>?], jobFailure: TaskFailure?,
        firstError: TaskFailure?, cancelReason: TaskReason?, firstSuccess: String? = nil
    ) {
        self.tasks = tasks
        self.lastAttempts = lastAttempts
        self.jobFailure = jobFailure
        self.firstError = firstError
        self.cancelReason = cancelReason
        self.firstSuccess = firstSuccess
    }

    /// The values of the tasks that succeeded, in task order.
    ///
    /// Inlinable, as ``get()`` is, so that it is specialised for the caller's
    /// value type: generic code walking 100,000 results looked up type
    /// metadata for each.
    @inlinable
    public var successes: [(name: String, value: Value)] {
        zip(tasks, lastAttempts).compactMap { task, result in
            guard task.outcome == .succeeded, case .success(let value)? = result else { return nil }
            return (task.name, value)
        }
    }

    /// Every failure in task order, then the group's own deadline error.
    public var failures: [TaskFailure] {
        tasks.compactMap(\.failure) + (jobFailure.map { [$0] } ?? [])
    }

    /// The distinct error types among the failures, looking through nested
    /// compound errors to the errors inside them.
    public var errorTypes: [ErrorType] {
        CompoundError(failures: failures).errorTypes
    }

    /// The failures whose error is an `E`, looking through nested compound
    /// errors (a failure inside one keeps the name of the task that reported it).
    ///
    /// - Parameter type: the error type to look for.
    public func failures<E: Error>(ofType type: E.Type) -> [TaskFailure] {
        CompoundError(failures: failures).leafFailures.filter { $0.error is E }
    }

    /// The number of tasks that ended `cancelled`.
    public var cancelledCount: Int { tasks.count { $0.outcome == .cancelled } }
    /// The number of tasks that ended `skipped`.
    public var skippedCount: Int { tasks.count { $0.outcome == .skipped } }

    /// The position of the task named `name` in ``tasks``, or `nil` when the
    /// group has no such task. O(1): an index of the names is built once, at
    /// the first look-up.
    public func position(of name: String) -> Int? {
        positions.position(of: name, in: tasks)
    }

    /// The result of the task named `name`, or `nil` when there is none. O(1).
    public func task(named name: String) -> TaskResult? {
        position(of: name).map { tasks[$0] }
    }

    /// What the last attempt of the task named `name` returned or threw, or
    /// `nil` when there is no such task or it never ran. O(1).
    public func lastAttempt(named name: String) -> Result<Value, any Error>? {
        position(of: name).flatMap { lastAttempts[$0] }
    }

    /// The value of the task named `name` if it succeeded, else `nil`. O(1).
    public func value(named name: String) -> Value? {
        guard let index = position(of: name), tasks[index].outcome == .succeeded,
              case .success(let value)? = lastAttempts[index] else { return nil }
        return value
    }

    /// The value of `task` with the task's own type, if it succeeded. O(1).
    ///
    /// With tasks of different value types gathered as `any Sendable`
    /// (``GatherTask/erased``, or the variadic `gather(_:_:options:)`),
    /// the task itself is the typed handle to its value:
    ///
    /// ```swift
    /// let page = GatherTask("page") { _ in "<html>" }
    /// let size = GatherTask("size") { _ in 42 }
    /// let results = try await gather(page, size)
    /// let text: String? = results[page]
    /// let bytes: Int? = results[size]
    /// ```
    public subscript<TaskValue: Sendable>(task: GatherTask<TaskValue>) -> TaskValue? {
        value(named: task.name).flatMap { $0 as? TaskValue }
    }

    /// All failures as one error, or `nil` when the group did not fail: none,
    /// or only those before the first success of a `first-success` group.
    public var compoundError: CompoundError? {
        let failures = failures
        guard !failures.isEmpty, isFailed else { return nil }
        return CompoundError(failures: failures, cancelled: cancelledCount, skipped: skippedCount)
    }

    /// Whether the errors fail the group: any error; after a first success
    /// (`first-success`) only an error of a clean-up task or the deadline's.
    private var isFailed: Bool {
        if jobFailure != nil { return true }
        if firstSuccess != nil { return tasks.contains { $0.isFinally && $0.outcome.isError } }
        return tasks.contains { $0.outcome.isError }
    }

    /// `failed` if any error (after a `first-success` success: any error of a
    /// clean-up task), else `succeeded` after a first success, else
    /// `interrupted` / `cancelled` after an outside
    /// cancellation (precedence: failed > interrupted > cancelled), else `succeeded`.
    public var state: JobState {
        if isFailed { return .failed }
        // A first success made the group succeed; a request or a stop after
        // it only cut the rest short.
        if firstSuccess != nil { return .succeeded }
        switch cancelReason {
        case .daemonStopping?, .daemonRestarted?: return .interrupted
        case .some: return .cancelled
        case nil: return .succeeded
        }
    }

    /// The values in task order, or the compound error.
    @inlinable
    public func get() throws(CompoundError) -> [Value] {
        if let error = compoundError { throw error }
        return successes.map(\.value)
    }
}

/// The positions of a group's tasks by name, built once, at the first look-up,
/// so that a group whose results are never looked up by name pays nothing.
private final class NamePositions: Sendable {
    private let index = Mutex<[String: Int]?>(nil)

    func position(of name: String, in tasks: [TaskResult]) -> Int? {
        index.withLock { index in
            if index == nil {
                var built: [String: Int] = [:]
                built.reserveCapacity(tasks.count)
                for (position, task) in tasks.enumerated() where built[task.name] == nil { built[task.name] = position }
                index = built
            }
            return index?[name]
        }
    }
}
