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
@inlinable
public func gather<Value: Sendable>(
    _ tasks: [GatherTask<Value>],
    options: GatherOptions = GatherOptions()
) async throws(GatherDefinitionError) -> GatheredResults<Value> {
    let problems = DependencyGraph.problems(names: tasks.map(\.name), after: tasks.map(\.after))
    guard problems.isEmpty else { throw GatherDefinitionError(problems: problems) }
    // The shell: generic, inlined into the caller so that values of its type are
    // handled without runtime generics; every decision is the scheduler's.
    var scheduler = GatherScheduler(tasks: tasks.map(\.spec), options: options)
    var lastAttempts = [Result<Value, any Error>?](repeating: nil, count: tasks.count)
    await withTaskGroup(of: GatherMessage<Value>.self) { group in
        scheduler.begin(callerCancelled: Task.isCancelled)
        perform(&scheduler.actions, tasks, &group)
        while !scheduler.isFinished, let message = await group.next() {
            switch message {
            case .attemptEnded(let index, let result, let duration):
                lastAttempts[index] = result
                let error: (any Error)?
                if case .failure(let failure) = result { error = failure } else { error = nil }
                scheduler.attemptEnded(index, error: error, duration: duration, callerCancelled: Task.isCancelled)
            case .timer(let instant):
                scheduler.timerFired(instant, callerCancelled: Task.isCancelled)
            case .mailbox:
                scheduler.mailboxWoke(callerCancelled: Task.isCancelled)
            }
            perform(&scheduler.actions, tasks, &group)
        }
        // Only stale timers and the mailbox can be left; end them.
        group.cancelAll()
    }
    let end = scheduler.end()
    return GatheredResults(
        tasks: end.tasks, lastAttempts: lastAttempts, jobFailure: end.jobFailure,
        firstError: end.firstError, cancelReason: end.cancelReason)
}

/// What a child task of a gathered group returns to the loop.
@usableFromInline
enum GatherMessage<Value: Sendable>: Sendable {
    case attemptEnded(index: Int, result: Result<Value, any Error>, duration: Duration)
    case timer(ContinuousClock.Instant)
    case mailbox
}

/// Carries out the scheduler's actions on the task group.
@inlinable
func perform<Value: Sendable>(
    _ actions: inout [GatherScheduler.Action], _ tasks: [GatherTask<Value>],
    _ group: inout TaskGroup<GatherMessage<Value>>
) {
    for action in actions {
        switch action {
        case .start(let index, let attempt):
            let task = tasks[index]
            group.addTask {
                let clock = ContinuousClock()
                let began = clock.now
                let result = await runAttempt(task, attempt)
                attempt.markFinished()
                return .attemptEnded(index: index, result: result, duration: began.duration(to: clock.now))
            }
        case .arm(let due):
            group.addTask {
                try? await Task.sleep(until: due, clock: .continuous)
                return .timer(due)
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
    actions.removeAll(keepingCapacity: true)
}

/// One attempt; with a timeout, the body races a sleep in a small group of its
/// own so that only this attempt is cancelled when its time runs out.
@inlinable
func runAttempt<Value: Sendable>(_ task: GatherTask<Value>, _ attempt: GatherAttempt) async -> Result<Value, any Error> {
    guard let timeout = task.timeout else {
        do { return .success(try await task.body(attempt)) } catch { return .failure(error) }
    }
    return await withTaskGroup(of: AttemptRace<Value>.self) { race in
        race.addTask {
            do { return .body(.success(try await task.body(attempt))) } catch { return .body(.failure(error)) }
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
