/// One task of a running group that has ended, as the stream of
/// ``gather(_:options:asTasksEnd:)`` hands it over: its final result and what
/// its last attempt returned.
public struct GatherTaskEnd<Value: Sendable>: Sendable {
    /// The task's position in the group, as given to `gather`.
    public let index: Int
    /// The task's final result: outcome, reason, attempts, failure, times.
    public let result: TaskResult
    /// What the task's last attempt returned or threw (`nil` if it never ran).
    public let lastAttempt: Result<Value, any Error>?

    /// - Parameters:
    ///   - index: the task's position in the group.
    ///   - result: its final result.
    ///   - lastAttempt: what its last attempt returned or threw.
    public init(index: Int, result: TaskResult, lastAttempt: Result<Value, any Error>?) {
        self.index = index
        self.result = result
        self.lastAttempt = lastAttempt
    }

    /// The task's name.
    public var name: String { result.name }
    /// The task's final outcome.
    public var outcome: TaskOutcome { result.outcome }
    /// The task's value, when it succeeded.
    public var value: Value? {
        guard result.outcome == .succeeded, case .success(let value)? = lastAttempt else { return nil }
        return value
    }
}
