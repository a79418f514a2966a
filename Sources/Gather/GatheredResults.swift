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

    public init(
        tasks: [TaskResult], lastAttempts: [Result<Value, any Error>?], jobFailure: TaskFailure?,
        firstError: TaskFailure?, cancelReason: TaskReason?
    ) {
        self.tasks = tasks
        self.lastAttempts = lastAttempts
        self.jobFailure = jobFailure
        self.firstError = firstError
        self.cancelReason = cancelReason
    }

    /// The values of the tasks that succeeded, in task order.
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

    /// The distinct error types among the failures.
    public var errorTypes: [ErrorType] {
        CompoundError(failures: failures).errorTypes
    }

    /// The failures whose error is an `E`.
    public func failures<E: Error>(ofType type: E.Type) -> [TaskFailure] {
        failures.filter { $0.error is E }
    }

    public var cancelledCount: Int { tasks.count { $0.outcome == .cancelled } }
    public var skippedCount: Int { tasks.count { $0.outcome == .skipped } }

    /// All failures as one error, or `nil` when there are none.
    public var compoundError: CompoundError? {
        let failures = failures
        guard !failures.isEmpty else { return nil }
        return CompoundError(failures: failures, cancelled: cancelledCount, skipped: skippedCount)
    }

    /// `failed` if any error, else `interrupted` / `cancelled` after an outside
    /// cancellation (SPEC §5 precedence), else `succeeded`.
    public var state: JobState {
        if jobFailure != nil || tasks.contains(where: { $0.outcome.isError }) { return .failed }
        switch cancelReason {
        case .daemonStopping?, .daemonRestarted?: return .interrupted
        case .some: return .cancelled
        case nil: return .succeeded
        }
    }

    /// The values in task order, or the compound error.
    public func get() throws(CompoundError) -> [Value] {
        if let error = compoundError { throw error }
        return successes.map(\.value)
    }
}
