/// How a group runs: its policy, its limits, and what reaches it from outside.
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

    /// - Parameters:
    ///   - policy: what happens on the first error (``GatherPolicy/collectAll``).
    ///   - maxParallel: at most this many tasks at once, at least 1 (`nil`: no limit).
    ///   - timeout: the group's deadline, at least 1 ms (`nil`: none).
    ///   - slotPool: task slots shared with other groups.
    ///   - control: cancels the group from outside, with a reason.
    ///   - onEvent: called for each event while the group runs.
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
/// those after the first. Throws only when the group cannot run as given (a
/// duplicate name, an unknown `after` name, a cycle, a setting out of range) —
/// before anything starts.
///
/// ```swift
/// let results = try await gather([
///     GatherTask("a") { _ in try await fetch("a") },
///     GatherTask("b", after: ["a"]) { _ in try await fetch("b") },
/// ], options: GatherOptions(policy: .failFast))
/// if let error = results.compoundError { print(error) }
/// ```
///
/// - Parameters:
///   - tasks: the group's tasks, with distinct names.
///   - options: the policy and limits of the group.
/// - Returns: every task's result, in the order of `tasks`.
/// - Throws: ``GatherDefinitionError`` naming every task and field at fault.
@inlinable
public func gather<Value: Sendable>(
    _ tasks: [GatherTask<Value>],
    options: GatherOptions = GatherOptions()
) async throws(GatherDefinitionError) -> GatheredResults<Value> {
    let definition = try GroupDefinition(tasks, options: options)
    return await runGroup(tasks, definition, options: options, endings: nil)
}

/// Runs `tasks` like ``gather(_:options:)->GatheredResults<Value>``, and hands `consume` each task's
/// result as the task ends, while the group runs.
///
/// `consume` runs beside the group; the sequence it gets holds every task of
/// the group exactly once (also those skipped or cancelled), in the order the
/// tasks ended, and finishes when the group is over. `gather` returns once
/// both the group and `consume` are done.
///
/// ```swift
/// let results = try await gather(tasks) { ended in
///     for await task in ended { print(task.name, task.outcome) }
/// }
/// ```
///
/// - Parameters:
///   - tasks: the group's tasks, with distinct names.
///   - options: the policy and limits of the group.
///   - consume: reads the tasks' results as they end.
/// - Returns: every task's result, in the order of `tasks`.
/// - Throws: ``GatherDefinitionError`` before anything starts.
@inlinable
public func gather<Value: Sendable>(
    _ tasks: [GatherTask<Value>],
    options: GatherOptions = GatherOptions(),
    asTasksEnd consume: @escaping @Sendable (AsyncStream<GatherTaskEnd<Value>>) async -> Void
) async throws(GatherDefinitionError) -> GatheredResults<Value> {
    let definition = try GroupDefinition(tasks, options: options)
    let (endings, continuation) = AsyncStream.makeStream(of: GatherTaskEnd<Value>.self)
    async let consumed: Void = consume(endings)
    let results = await runGroup(tasks, definition, options: options, endings: continuation)
    continuation.finish()
    await consumed
    return results
}

/// Gathers tasks whose values have different types, without losing any: each
/// task's value is kept as `any Sendable`, and the results give it back with
/// its own type through the task (``GatheredResults/subscript(_:)``).
///
/// ```swift
/// let page = GatherTask("page") { _ in try await fetch("a") }    // GatherTask<String>
/// let count = GatherTask("count") { _ in try await countRows() }  // GatherTask<Int>
/// let results = try await gather(page, count)
/// let text: String? = results[page]
/// ```
///
/// - Parameters:
///   - tasks: the group's tasks, with distinct names.
///   - options: the policy and limits of the group.
/// - Returns: every task's result, in the order given.
/// - Throws: ``GatherDefinitionError`` before anything starts.
@inlinable
public func gather<each Value: Sendable>(
    _ tasks: repeat GatherTask<each Value>,
    options: GatherOptions = GatherOptions()
) async throws(GatherDefinitionError) -> GatheredResults<any Sendable> {
    var erased: [GatherTask<any Sendable>] = []
    for task in repeat each tasks { erased.append(task.erased) }
    return try await gather(erased, options: options)
}

/// What the check of a definition hands on to the group: the names, and the
/// `after` lists and retry settings only where tasks have them (for a large
/// group each per-task copy is megabytes to allocate, fault in and free).
@usableFromInline
struct GroupDefinition {
    @usableFromInline let names: [String]
    @usableFromInline let after: [[String]]
    @usableFromInline let retryPolicies: [Int: RetryPolicy]
    /// For each task, whether it is a clean-up task; empty when none is.
    @usableFromInline let isFinally: [Bool]

    @inlinable
    init<Value: Sendable>(_ tasks: [GatherTask<Value>], options: GatherOptions) throws(GatherDefinitionError) {
        var problems = DefinitionRules.problems(of: options)
        // The loop's messages carry a task's index in 32 bits.
        guard tasks.count <= Int(Int32.max) else {
            problems.append(.init(task: nil, field: "tasks", message: "at most \(Int32.max) tasks, not \(tasks.count)"))
            throw GatherDefinitionError(problems: problems)
        }
        var names: [String] = []
        names.reserveCapacity(tasks.count)
        var retryPolicies: [Int: RetryPolicy] = [:]
        var anyAfter = false
        var anyFinally = false
        // Field by field: a copy of each whole task would retain and release
        // its closure and settings, 100,000 times over. A task with every
        // setting at its default (most) has nothing more to check.
        for index in tasks.indices {
            names.append(tasks[index].name)
            guard let settings = tasks[index].settings?.values else { continue }
            anyAfter = anyAfter || !settings.after.isEmpty
            anyFinally = anyFinally || settings.isFinally
            let retries = settings.retries
            DefinitionRules.check(
                task: tasks[index].name, timeout: settings.timeout, retries: retries,
                retryDelay: settings.retryDelay, into: &problems)
            if retries > 0 {
                DefinitionRules.check(task: tasks[index].name, retryDelayMax: settings.retryDelayMax, into: &problems)
                retryPolicies[index] = tasks[index].retryPolicy
            }
        }
        let after = anyAfter ? tasks.map(\.after) : []
        // Clean-up tasks are few; the flags exist only when there are some.
        let isFinally = anyFinally ? tasks.map(\.isFinally) : []
        problems += DefinitionRules.problems(names: names, after: after, isFinally: isFinally)
        guard problems.isEmpty else { throw GatherDefinitionError(problems: problems) }
        self.names = names
        self.after = after
        self.retryPolicies = retryPolicies
        self.isFinally = isFinally
    }
}

/// The shell: generic, inlined into the caller so that values of its type are
/// handled without runtime generics; every decision is the scheduler's.
@inlinable
func runGroup<Value: Sendable>(
    _ tasks: [GatherTask<Value>], _ definition: GroupDefinition, options: GatherOptions,
    endings: AsyncStream<GatherTaskEnd<Value>>.Continuation?
) async -> GatheredResults<Value> {
    var scheduler = GatherScheduler(
        names: definition.names, after: definition.after, retryPolicies: definition.retryPolicies,
        isFinally: definition.isFinally, options: options, reportsEnds: endings != nil)
    let lastAttempts = AttemptResults<Value>(count: tasks.count)
    // A second task group only for clean-up tasks that must start after the
    // first group was cancelled (its new children would start cancelled).
    // A throwing group though no child throws: `TaskGroup.addTask` wraps each
    // child in a thunk that makes it a throwing closure, a call per child that
    // the throwing group does not make.
    repeat {
        await withThrowingTaskGroup(of: GatherMessage.self) { group in
            scheduler.begin(callerCancelled: Task.isCancelled)
            perform(&scheduler, tasks, lastAttempts, &group)
            if let endings { report(&scheduler, lastAttempts, endings) }
            while !scheduler.isFinished, !scheduler.needsFreshGroup, let message = try? await group.next() {
                switch message.kind {
                case .attemptEnded:
                    scheduler.attemptEnded(
                        message.index, error: lastAttempts.error(at: message.index), stopRequested: message.stopRequested,
                        began: message.began, ended: message.ended, callerCancelled: Task.isCancelled)
                case .timer:
                    scheduler.timerFired(id: message.began, callerCancelled: Task.isCancelled)
                case .mailbox:
                    scheduler.mailboxWoke(callerCancelled: Task.isCancelled)
                }
                perform(&scheduler, tasks, lastAttempts, &group)
                if let endings { report(&scheduler, lastAttempts, endings) }
            }
            // Only stale timers and the mailbox can be left; end them.
            group.cancelAll()
        }
    } while scheduler.needsFreshGroup
    let end = scheduler.end()
    return GatheredResults(
        tasks: end.tasks, lastAttempts: lastAttempts.collect(), jobFailure: end.jobFailure,
        firstError: end.firstError, cancelReason: end.cancelReason, firstSuccess: end.firstSuccess)
}

/// Hands the tasks that ended since the last call to the stream of ends.
@inlinable
func report<Value: Sendable>(
    _ scheduler: inout GatherScheduler, _ results: AttemptResults<Value>,
    _ endings: AsyncStream<GatherTaskEnd<Value>>.Continuation
) {
    guard !scheduler.ended.isEmpty else { return }
    for index in scheduler.ended {
        endings.yield(GatherTaskEnd(index: index, result: scheduler.result(of: index), lastAttempt: results.storage[index]))
    }
    scheduler.ended.removeAll(keepingCapacity: true)
}

/// What each task's last attempt returned, written by the attempt's child task
/// just before it ends; read by the loop when it receives that child's message
/// (for the error) and after the group is done.
///
/// Each slot is written only by the one attempt running for that task, and
/// attempts of a task never overlap (a retry starts after the loop received the
/// previous attempt's message), so no lock is needed; a child's completion
/// orders its write before the loop receives its message, and before the final
/// read. This keeps the messages non-generic and trivial, so the runtime never
/// copies a generic payload or an existential.
@usableFromInline
final class AttemptResults<Value: Sendable>: @unchecked Sendable {
    @usableFromInline let storage: UnsafeMutableBufferPointer<Result<Value, any Error>?>

    @inlinable
    init(count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }


    /// The error of the attempt that last ended for task `index`, if it threw.
    @inlinable
    func error(at index: Int) -> (any Error)? {
        switch storage[index] {
        case .failure(let error)?: return error
        case .success?, nil: return nil
        }
    }

    @inlinable
    func collect() -> [Result<Value, any Error>?] { Array(storage) }

    @inlinable
    deinit {
        storage.deinitialize()
        storage.deallocate()
    }
}

/// Carries out the scheduler's actions on the task group, then starts every
/// attempt the scheduler allows now.
@inlinable
func perform<Value: Sendable>(
    _ scheduler: inout GatherScheduler, _ tasks: [GatherTask<Value>], _ results: AttemptResults<Value>,
    _ group: inout ThrowingTaskGroup<GatherMessage, any Error>
) {
    if !scheduler.actions.isEmpty {
        for action in scheduler.actions {
            switch action {
            case .arm(let due, let id):
                group.addTask {
                    try? await Task.sleep(until: due, clock: .continuous)
                    return .timer(id: id)
                }
            case .watchMailbox(let mailbox):
                group.addTask {
                    await mailbox.wait()
                    return .mailbox
                }
            case .cancelAll:
                group.cancelAll()
            }
        }
        scheduler.actions.removeAll(keepingCapacity: true)
    }
    // Capture only what the attempt needs: fewer retains per child. The
    // results buffer is captured as a pointer, not as its owner, and the
    // attempts' table unowned: a retain by the loop and a release by the child
    // of one shared object per child would make both cores contend for its
    // reference count; `gather` keeps both alive until the group is over. (The
    // `GatherAttempt` a child hands its body holds the table strongly, as a
    // body may keep it: that retain and release stay on the child's core.)
    unowned(unsafe) let table = scheduler.attemptTable
    while let start = scheduler.nextStart() {
        let index = start.index
        let number = start.number
        let body = tasks[index].body
        let timeout = tasks[index].settings?.values.timeout
        let storage = results.storage
        group.addTask {
            let began = MonotonicTime.now()
            let result = await runAttempt(body, timeout: timeout, GatherAttempt(table: table, index: index, number: number))
            let (stopRequested, workEnded) = table.markFinished(index, number)
            storage[index] = result
            return .attemptEnded(index: index, stopRequested: stopRequested, began: began, ended: workEnded ?? MonotonicTime.now())
        }
    }
}

/// One attempt; with a timeout, the body races a sleep in a small group of its
/// own so that only this attempt is cancelled when its time runs out.
@inlinable
func runAttempt<Value: Sendable>(
    _ body: @escaping @Sendable (GatherAttempt) async throws -> Value, timeout: Duration?, _ attempt: GatherAttempt
) async -> Result<Value, any Error> {
    guard let timeout else {
        do { return .success(try await body(attempt)) } catch { return .failure(error) }
    }
    return await withTaskGroup(of: AttemptRace<Value>.self) { race in
        race.addTask {
            do { return .body(.success(try await body(attempt))) } catch { return .body(.failure(error)) }
        }
        race.addTask {
            do { try await Task.sleep(for: timeout); return .timer(fired: true) } catch { return .timer(fired: false) }
        }
        while let next = await race.next() {
            switch next {
            case .body(let result):
                race.cancelAll()
                return result
            case .timer(let fired):
                if fired {
                    attempt.requestStop(.timedOut(timeout))
                    race.cancelAll()
                }
            }
        }
        fatalError("attempt race ended without the body's result")
    }
}

/// The two sides of an attempt with a timeout.
@usableFromInline
enum AttemptRace<Value: Sendable>: Sendable {
    case body(Result<Value, any Error>)
    case timer(fired: Bool)
}
