/// How a group runs (SPEC §2, §9).
public struct GatherOptions: Sendable {
    /// What happens on the first error.
    public var policy: GatherPolicy
    /// At most this many tasks of the group run at once (`nil`: no limit).
    public var maxParallel: Int?
    /// Deadline for the whole group, from its start on the monotonic clock.
    public var timeout: Duration?
    /// Slots shared with other groups; a task runs only while it holds one.
    public var slotPool: TaskSlotPool?
    /// Cancels the group from outside with a reason.
    public var control: GatherControl?
    /// Called for each ``GatherEvent`` while the group runs.
    public var onEvent: (@Sendable (GatherEvent) -> Void)?

    public init(
        policy: GatherPolicy = .collectAll,
        maxParallel: Int? = nil,
        timeout: Duration? = nil,
        slotPool: TaskSlotPool? = nil,
        control: GatherControl? = nil,
        onEvent: (@Sendable (GatherEvent) -> Void)? = nil
    ) {
        self.policy = policy
        self.maxParallel = maxParallel
        self.timeout = timeout
        self.slotPool = slotPool
        self.control = control
        self.onEvent = onEvent
    }
}

/// Runs `tasks` concurrently under `options.policy` and gathers every outcome.
///
/// Nothing is lost: the result lists every task's outcome and every error, also
/// those after the first. Throws only when the group cannot run as given
/// (duplicate names, unknown `after` names, cycles) — before anything starts.
///
/// ```swift
/// let results = try await gather([
///     GatherTask("a") { _ in try await fetch("a") },
///     GatherTask("b", after: ["a"]) { _ in try await fetch("b") },
/// ], options: GatherOptions(policy: .failFast))
/// if let error = results.compoundError { print(error) }
/// ```
public func gather<Value: Sendable>(
    _ tasks: [GatherTask<Value>],
    options: GatherOptions = GatherOptions()
) async throws(GatherDefinitionError) -> GatheredResults<Value> {
    let problems = DependencyGraph.problems(names: tasks.map(\.name), after: tasks.map(\.after))
    guard problems.isEmpty else { throw GatherDefinitionError(problems: problems) }
    var engine = GatherEngine(tasks: tasks, options: options)
    return await engine.run()
}
