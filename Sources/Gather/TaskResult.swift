#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The end of one task: its outcome (that of its last attempt), why it was
/// cancelled or skipped, and its error line if the outcome is an error.
public struct TaskResult: Sendable {
    public let name: String
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
/// `description` is the SPEC §5 error line, `name: text`.
public struct TaskFailure: Error, Sendable, CustomStringConvertible {
    /// The task's name, or `job` for the group's own deadline error.
    public let task: String
    /// The error the body threw, or a ``GatherTimeout`` the engine recorded.
    public let error: any Error
    /// `failed`, `killed`, `timed-out` or `spawn-failed`.
    public let outcome: TaskOutcome

    public init(task: String, error: any Error, outcome: TaskOutcome) {
        self.task = task
        self.error = error
        self.outcome = outcome
    }

    /// The text after `name: ` (`exited with status 1`).
    public var message: String { String(describing: error) }

    public var description: String { "\(task): \(message)" }

    /// The dynamic type of the underlying error.
    public var errorType: ErrorType { ErrorType(type(of: error)) }
}

/// An error type as a hashable value, for ``GatheredResults/errorTypes``.
public struct ErrorType: Hashable, Sendable, CustomStringConvertible {
    public let type: any Error.Type

    public init(_ type: any Error.Type) { self.type = type }

    public static func == (lhs: ErrorType, rhs: ErrorType) -> Bool {
        ObjectIdentifier(lhs.type) == ObjectIdentifier(rhs.type)
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(type)) }
    public var description: String { String(describing: type) }
}
