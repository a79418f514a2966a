/// Every failure of a group in one error (SPEC §5), in the spirit of
/// asyncio_tools' `CompoundException` and PEP 654 exception groups.
///
/// Its description is exactly the line gatherd logs and records:
///
///     CompoundError, 2 errors [dump-db: exited with status 1; upload: timed out after 5s] (1 cancelled, 2 skipped)
public struct CompoundError: Error, Sendable, CustomStringConvertible {
    /// Every failure, in task order (a group deadline error last).
    public let failures: [TaskFailure]
    /// Tasks that ended `cancelled`.
    public let cancelled: Int
    /// Tasks that ended `skipped`.
    public let skipped: Int

    public init(failures: [TaskFailure], cancelled: Int = 0, skipped: Int = 0) {
        self.failures = failures
        self.cancelled = cancelled
        self.skipped = skipped
    }

    /// The distinct types of the underlying errors, in order of first appearance.
    public var errorTypes: [ErrorType] {
        var seen = Set<ErrorType>()
        return failures.map(\.errorType).filter { seen.insert($0).inserted }
    }

    /// Splits by error type, like PEP 654's `split`: the failures whose error is
    /// an `E`, and the rest. Either side is `nil` when empty; counts stay with both.
    public func split<E: Error>(_ type: E.Type) -> (matching: CompoundError?, rest: CompoundError?) {
        split { $0.error is E }
    }

    /// Splits by a predicate on each failure.
    public func split(
        where belongs: (TaskFailure) -> Bool
    ) -> (matching: CompoundError?, rest: CompoundError?) {
        var matching: [TaskFailure] = []
        var rest: [TaskFailure] = []
        for failure in failures {
            if belongs(failure) { matching.append(failure) } else { rest.append(failure) }
        }
        func make(_ list: [TaskFailure]) -> CompoundError? {
            list.isEmpty ? nil : CompoundError(failures: list, cancelled: cancelled, skipped: skipped)
        }
        return (make(matching), make(rest))
    }

    public var description: String { line(maxErrors: nil) }

    /// The line, listing at most `maxErrors` errors and then `; … and N more]`
    /// (the journal's MESSAGE keeps 100; the record keeps all).
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
