/// Thrown by ``gather(_:options:)->GatheredResults<Value>`` when a group cannot run as given, before
/// anything starts: every problem of the definition, each naming the task (or
/// the options) and the field at fault.
///
/// ```swift
/// do {
///     _ = try await gather([GatherTask("fetch", retries: 200) { _ in 1 }])
/// } catch {
///     print(error)  // task "fetch": retries: must be 0 … 100, not 200
/// }
/// ```
public struct GatherDefinitionError: Error, Sendable, CustomStringConvertible {
    /// One thing wrong with a definition.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The task at fault, or `nil` for a field of ``GatherOptions``.
        public let task: String?
        /// The field at fault, as spelled in ``GatherTask`` or ``GatherOptions``:
        /// `name`, `after`, `timeout`, `retries`, `retryDelay`, `retryDelayMax`, `maxParallel`
        /// (and `tasks` for a group of more than 2,147,483,647 tasks).
        public let field: String
        /// What is wrong with it (`must be 0 … 100, not 200`).
        public let message: String
        /// For a problem of the `after` graph or of the names, the graph's own
        /// account of it, with the task's position.
        public let graph: DependencyGraph.Problem?

        /// - Parameters:
        ///   - task: the task's name, or `nil` for an option of the group.
        ///   - field: the field at fault.
        ///   - message: what is wrong with it.
        ///   - graph: the dependency graph's account, for a problem of names or `after`.
        public init(task: String?, field: String, message: String, graph: DependencyGraph.Problem? = nil) {
            self.task = task
            self.field = field
            self.message = message
            self.graph = graph
        }

        /// `task "fetch": retries: must be 0 … 100, not 200`, or
        /// `options: maxParallel: must be at least 1, not 0`.
        public var description: String {
            let subject = task.map { "task \"\($0)\"" } ?? "options"
            return "\(subject): \(field): \(message)"
        }
    }

    /// Every problem found, the group's options first, then the tasks in order.
    public let problems: [Problem]

    /// - Parameter problems: the problems found; a definition error has at least one.
    public init(problems: [Problem]) {
        self.problems = problems
    }

    /// The problems of the dependency graph and of the names alone.
    public var graphProblems: [DependencyGraph.Problem] { problems.compactMap(\.graph) }

    /// Every problem, separated by `; `.
    public var description: String {
        problems.map(\.description).joined(separator: "; ")
    }
}

/// The rules a definition must follow, checked before a group starts.
@usableFromInline
enum DefinitionRules {
    /// The most retries a task may have.
    static let maxRetries = 100
    /// The shortest duration other than zero: a duration is 0 or at least 1 ms.
    static let shortest = Duration.milliseconds(1)

    /// The problems of the group's own options.
    @usableFromInline
    static func problems(of options: GatherOptions) -> [GatherDefinitionError.Problem] {
        var problems: [GatherDefinitionError.Problem] = []
        if let limit = options.maxParallel, limit < 1 {
            problems.append(.init(task: nil, field: "maxParallel", message: "must be at least 1, not \(limit)"))
        }
        if let timeout = options.timeout, let message = limitProblem(timeout) {
            problems.append(.init(task: nil, field: "timeout", message: message))
        }
        return problems
    }

    /// Adds the problems of one task's settings. Cheap
    /// for a task with the defaults: a group of 100,000 tasks checks them all.
    @usableFromInline
    static func check(
        task name: String, timeout: Duration?, retries: Int, retryDelay: Duration,
        into problems: inout [GatherDefinitionError.Problem]
    ) {
        if let timeout, let message = limitProblem(timeout) {
            problems.append(.init(task: name, field: "timeout", message: message))
        }
        if retries < 0 || retries > maxRetries {
            problems.append(.init(task: name, field: "retries", message: "must be 0 … \(maxRetries), not \(retries)"))
        }
        if retryDelay != .zero, let message = delayProblem(retryDelay) {
            problems.append(.init(task: name, field: "retryDelay", message: message))
        }
    }

    /// Adds the problem of a task's cap of the retry delay, if it has one.
    @usableFromInline
    static func check(task name: String, retryDelayMax: Duration, into problems: inout [GatherDefinitionError.Problem]) {
        if retryDelayMax != .zero, let message = delayProblem(retryDelayMax) {
            problems.append(.init(task: name, field: "retryDelayMax", message: message))
        }
    }

    /// A limit (a timeout) must be at least 1 ms: zero would end every attempt at once.
    static func limitProblem(_ limit: Duration) -> String? {
        limit < shortest ? "must be at least 1ms, not \(limit)" : nil
    }

    /// A delay is 0 or at least 1 ms, never negative.
    static func delayProblem(_ delay: Duration) -> String? {
        if delay < .zero { return "must not be negative, not \(delay)" }
        if delay > .zero && delay < shortest { return "must be 0 or at least 1ms, not \(delay)" }
        return nil
    }

    /// The graph's problems in the definition's terms.
    @usableFromInline
    static func problems(names: [String], after: [[String]], isFinally: [Bool] = []) -> [GatherDefinitionError.Problem] {
        DependencyGraph.problems(names: names, after: after, isFinally: isFinally).map { problem in
            switch problem {
            case .duplicateName(_, let name):
                return .init(task: name, field: "name", message: problem.description, graph: problem)
            case .unknownName(let index, _, _), .selfReference(let index, _), .cycle(let index, _),
                .namesFinallyTask(let index, _, _):
                return .init(task: names[index], field: "after", message: problem.description, graph: problem)
            }
        }
    }
}
