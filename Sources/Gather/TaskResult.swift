#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The end of one task: its outcome (that of its last attempt), why it was
/// cancelled or skipped, and its error line if the outcome is an error.
public struct TaskResult: Sendable {
    /// The task's name.
    public let name: String
    /// How the task ended: the outcome of its last attempt, or the engine's
    /// when it stopped the task or never started it.
    public let outcome: TaskOutcome
    /// For `cancelled` and `skipped`: why (`dump-db failed`, `job timed out`, …).
    public let reason: TaskReason?
    /// Attempts started (0 for a skipped task).
    public let attempts: Int
    /// For an error outcome: the failure, whose description is the error line.
    public let failure: TaskFailure?
    /// Wall-clock start of the last attempt.
    public let startedAt: Date?
    /// Run time of the last attempt.
    public let duration: Duration?
    /// A clean-up task (``GatherTask/isFinally``).
    public let isFinally: Bool

    /// - Parameters:
    ///   - name: the task's name.
    ///   - outcome: how it ended.
    ///   - reason: why it was cancelled or skipped.
    ///   - attempts: attempts started.
    ///   - failure: the failure, for an error outcome.
    ///   - startedAt: when the last attempt started.
    ///   - duration: how long the last attempt ran.
    ///   - isFinally: whether it is a clean-up task.
    public init(
        name: String, outcome: TaskOutcome, reason: TaskReason? = nil, attempts: Int,
        failure: TaskFailure? = nil, startedAt: Date? = nil, duration: Duration? = nil, isFinally: Bool = false
    ) {
        self.name = name
        self.outcome = outcome
        self.reason = reason
        self.attempts = attempts
        self.failure = failure
        self.startedAt = startedAt
        self.duration = duration
        self.isFinally = isFinally
    }
}

/// One error of a group: the task, what it reported, and the outcome.
/// `description` is the error line, `name: text`.
public struct TaskFailure: Error, Sendable, CustomStringConvertible {
    /// The task's name, or `job` for the group's own deadline error.
    public let task: String
    /// The error the body threw, or a ``GatherTimeout`` the engine recorded.
    public let error: any Error
    /// `failed`, `killed`, `timed-out` or `spawn-failed`.
    public let outcome: TaskOutcome

    /// - Parameters:
    ///   - task: the task's name (`job` for the group's own deadline error).
    ///   - error: what the task's body threw, or the engine's ``GatherTimeout``.
    ///   - outcome: the error outcome.
    public init(task: String, error: any Error, outcome: TaskOutcome) {
        self.task = task
        self.error = error
        self.outcome = outcome
    }

    /// The text after `name: ` (`exited with status 1`).
    public var message: String { String(describing: error) }

    /// The error line: `dump-db: exited with status 1`.
    public var description: String { "\(task): \(message)" }

    /// The dynamic type of the underlying error.
    public var errorType: ErrorType { ErrorType(type(of: error)) }
}

/// An error type as a hashable value, for ``GatheredResults/errorTypes``.
public struct ErrorType: Hashable, Sendable, CustomStringConvertible {
    /// The type.
    public let type: any Error.Type

    /// - Parameter type: the error type, e.g. `GatherTimeout.self`.
    public init(_ type: any Error.Type) { self.type = type }

    /// The same type.
    public static func == (lhs: ErrorType, rhs: ErrorType) -> Bool {
        ObjectIdentifier(lhs.type) == ObjectIdentifier(rhs.type)
    }
    /// Hashes the type's identity.
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(type)) }
    /// The type's name, e.g. `GatherTimeout`.
    public var description: String { String(describing: type) }
}
