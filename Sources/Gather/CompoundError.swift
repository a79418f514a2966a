/// Every failure of a group in one error, in the spirit of asyncio_tools'
/// `CompoundException` and of Python's exception groups (PEP 654).
///
/// Its description is exactly the line gatherd logs and records:
///
///     CompoundError, 2 errors [dump-db: exited with status 1; upload: timed out after 5s] (1 cancelled, 2 skipped)
///
/// A task whose body gathers a group of its own and throws that group's
/// compound error makes a nested compound error: ``split(_:)``,
/// ``subgroup(_:)`` and ``errorTypes`` look through the nesting, and the
/// parts they return keep it.
public struct CompoundError: Error, Sendable, CustomStringConvertible {
    /// Every failure, in task order (a group deadline error last).
    public let failures: [TaskFailure]
    /// Tasks that ended `cancelled`.
    public let cancelled: Int
    /// Tasks that ended `skipped`.
    public let skipped: Int

    /// - Parameters:
    ///   - failures: every failure, in task order.
    ///   - cancelled: how many tasks ended `cancelled`.
    ///   - skipped: how many tasks ended `skipped`.
    public init(failures: [TaskFailure], cancelled: Int = 0, skipped: Int = 0) {
        self.failures = failures
        self.cancelled = cancelled
        self.skipped = skipped
    }

    /// The failures that are not compound errors themselves, depth first: those
    /// inside a nested compound error take the place of the failure holding it.
    /// Each keeps the name of the task that reported it.
    public var leafFailures: [TaskFailure] {
        var leaves: [TaskFailure] = []
        func visit(_ group: CompoundError) {
            for failure in group.failures {
                if let nested = failure.error as? CompoundError { visit(nested) } else { leaves.append(failure) }
            }
        }
        visit(self)
        return leaves
    }

    /// The distinct types of the errors, in order of first appearance, looking
    /// through nested compound errors (a ``CompoundError`` is never listed).
    public var errorTypes: [ErrorType] {
        var seen = Set<ErrorType>()
        return leafFailures.map(\.errorType).filter { seen.insert($0).inserted }
    }

    /// Splits by error type, like PEP 654's `split`: the failures whose error is
    /// an `E`, and the rest. Nested compound errors are split too, each part
    /// keeping the nesting; a nested compound error that is itself an `E` goes
    /// whole to `matching`, and so does `self` when it is an `E`. Either side
    /// is `nil` when empty; the counts of cancelled and skipped tasks stay with both.
    ///
    /// - Parameter type: the error type to split out.
    /// - Returns: the failures that are `E`, and the others.
    public func split<E: Error>(_ type: E.Type) -> (matching: CompoundError?, rest: CompoundError?) {
        if (self as any Error) is E { return (self, nil) }
        return split { $0.error is E }
    }

    /// Splits by a condition on each failure, like PEP 654's `split` with a
    /// predicate: a failure that meets it goes whole to `matching`; one that
    /// does not and holds a compound error is split in turn, keeping the nesting.
    ///
    /// - Parameter belongs: the condition, asked of every failure and nested failure.
    /// - Returns: the failures that meet it, and the others.
    public func split(
        where belongs: (TaskFailure) -> Bool
    ) -> (matching: CompoundError?, rest: CompoundError?) {
        var matching: [TaskFailure] = []
        var rest: [TaskFailure] = []
        for failure in failures {
            if belongs(failure) {
                matching.append(failure)
            } else if let nested = failure.error as? CompoundError {
                let (inside, outside) = nested.split(where: belongs)
                if let inside { matching.append(failure.replacingError(with: inside)) }
                if let outside { rest.append(failure.replacingError(with: outside)) }
            } else {
                rest.append(failure)
            }
        }
        return (replacingFailures(with: matching), replacingFailures(with: rest))
    }

    /// The failures whose error is an `E`, like PEP 654's `subgroup`: the
    /// `matching` side of ``split(_:)``, nesting kept; `nil` when none is.
    ///
    /// - Parameter type: the error type to keep.
    public func subgroup<E: Error>(_ type: E.Type) -> CompoundError? {
        split(type).matching
    }

    /// The failures that meet `belongs`, like PEP 654's `subgroup` with a
    /// predicate: the `matching` side of ``split(where:)``, nesting kept.
    ///
    /// - Parameter belongs: the condition, asked of every failure and nested failure.
    public func subgroup(where belongs: (TaskFailure) -> Bool) -> CompoundError? {
        split(where: belongs).matching
    }

    /// This group's counts with other failures; `nil` for none.
    private func replacingFailures(with list: [TaskFailure]) -> CompoundError? {
        list.isEmpty ? nil : CompoundError(failures: list, cancelled: cancelled, skipped: skipped)
    }

    /// The line, as ``line(maxErrors:)`` with no limit.
    public var description: String { line(maxErrors: nil) }

    /// The line, listing at most `maxErrors` errors and then `; … and N more]`
    /// (the journal's message keeps 100; the record keeps all).
    ///
    /// - Parameter maxErrors: the most errors to list (`nil`: all).
    public func line(maxErrors: Int?) -> String {
        let count = failures.count
        var text = "CompoundError, \(count) error\(count == 1 ? "" : "s") ["
        let shown = maxErrors.map { min($0, count) } ?? count
        for index in 0..<shown {
            if index > 0 { text += "; " }
            text += failures[index].description
        }
        if shown < count {
            text += "; … and \(count - shown) more"
        }
        text += "]"
        var counts: [String] = []
        if cancelled > 0 { counts.append("\(cancelled) cancelled") }
        if skipped > 0 { counts.append("\(skipped) skipped") }
        if !counts.isEmpty { text += " (" + counts.joined(separator: ", ") + ")" }
        return text
    }
}

extension TaskFailure {
    /// The same failure of the same task, with `error` in place of its own.
    func replacingError(with error: any Error) -> TaskFailure {
        TaskFailure(task: task, error: error, outcome: outcome)
    }
}
