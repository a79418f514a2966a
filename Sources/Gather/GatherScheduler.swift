#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How a task is retried. The scheduler keeps one only for the tasks that
/// have retries: no per-task copy of all the tasks' settings.
@usableFromInline
struct RetryPolicy: Sendable {
    let retries: Int
    let retryDelay: Duration

    @usableFromInline
    init(retries: Int, retryDelay: Duration) {
        self.retries = retries
        self.retryDelay = retryDelay
    }

    /// The delay before retry number `retry` (1-based): `retryDelay` doubled
    /// `retry - 1` times, at most 10 minutes.
    func delay(beforeRetry retry: Int) -> Duration {
        let cap = Duration.seconds(600)
        var delay = retryDelay
        var step = 1
        while step < retry && delay < cap {
            delay = delay * 2
            step += 1
        }
        return min(delay, cap)
    }
}

/// What a child task of a gathered group returns to the loop. Not generic: an
/// attempt's value, and its error, go to ``AttemptResults``, where the loop reads
/// them. A plain struct of integers rather than an enum with payloads: the
/// runtime copies each child's result through value witnesses, and a trivial
/// type is copied as bytes (a multi-payload enum holding an existential cost an
/// outlined copy and a case lookup per attempt).
@usableFromInline
struct GatherMessage: Sendable {
    @usableFromInline
    enum Kind: UInt8, Sendable {
        case attemptEnded
        case timer
        case mailbox
    }

    @usableFromInline let kind: Kind
    /// For `attemptEnded`: the engine had asked the attempt to stop before it ended.
    @usableFromInline let stopRequested: Bool
    /// The task, for `attemptEnded`.
    @usableFromInline let index: Int
    /// When the attempt began, or the instant a timer was armed for.
    @usableFromInline let began: ContinuousClock.Instant
    /// When the attempt ended (a timer: its instant again).
    @usableFromInline let ended: ContinuousClock.Instant

    @inlinable
    init(
        kind: Kind, stopRequested: Bool = false, index: Int, began: ContinuousClock.Instant,
        ended: ContinuousClock.Instant
    ) {
        self.kind = kind
        self.stopRequested = stopRequested
        self.index = index
        self.began = began
        self.ended = ended
    }

    @inlinable
    static func attemptEnded(
        index: Int, stopRequested: Bool, began: ContinuousClock.Instant, ended: ContinuousClock.Instant
    ) -> Self {
        Self(kind: .attemptEnded, stopRequested: stopRequested, index: index, began: began, ended: ended)
    }

    @inlinable
    static func timer(_ due: ContinuousClock.Instant) -> Self {
        Self(kind: .timer, index: 0, began: due, ended: due)
    }

    @inlinable
    static func mailbox(at now: ContinuousClock.Instant) -> Self {
        Self(kind: .mailbox, index: 0, began: now, ended: now)
    }
}

/// An attempt the scheduler wants started.
@usableFromInline
struct StartOrder {
    @usableFromInline let index: Int
    @usableFromInline let attempt: GatherAttempt
}

/// The decisions behind ``gather(_:options:)``, as a state machine that knows
/// nothing of values or task groups.
///
/// The generic shell in `gather` owns the task group: it feeds the scheduler
/// what happened (an attempt ended, a timer fired, the mailbox woke) and
/// carries out the ``Action``s the scheduler asks for. Keeping the scheduler
/// non-generic lets it be compiled once, fully optimised, whatever the value
/// type of the caller's tasks. All its state is owned by the one task that runs
/// the group loop: no lock on the hot path.
@usableFromInline
struct GatherScheduler {
    /// What the shell must do on the scheduler's behalf.
    @usableFromInline
    enum Action {
        /// Add a timer child that returns at `instant`.
        case arm(ContinuousClock.Instant)
        /// Add a child that waits on the mailbox.
        case watchMailbox(GatherMailbox)
        /// Cancel every child (running attempts were already asked to stop).
        case cancelAll
    }

    private enum Phase: UInt8 {
        /// Waiting for `Slot.remaining` distinct dependencies to succeed.
        case waiting
        case ready
        /// `Slot.attempt` is the attempt running.
        case running
        case retryWait
        case done
    }

    /// One task's state: 40 bytes, so that 100,000 tasks stay a few megabytes
    /// (the payload enum and optionals it replaced took ~100 bytes a task, and
    /// the allocation and page faults showed in the profile). Times are
    /// nanoseconds (the resolution of `ContinuousClock` on Linux), relative to
    /// `anchor`; `Int64.min` stands for none. A reason is an index into
    /// `reasons`, most tasks having none.
    private struct Slot {
        var attempt: GatherAttempt?
        var began: Int64 = .min
        var duration: Int64 = .min
        var attempts: Int32 = 0
        var remaining: Int32
        var reason: Int32 = -1
        var phase: Phase
        var outcome: TaskOutcome?

        init(phase: Phase, remaining: Int32) {
            self.phase = phase
            self.remaining = remaining
        }
    }

    /// Actions for the shell, drained after every call.
    @usableFromInline
    var actions: [Action] = []

    /// The tasks' names, in task order (the array the shell checked for duplicates).
    private let names: [String]
    /// The tasks with `retries > 0`, by index.
    private let retryPolicies: [Int: RetryPolicy]
    private let options: GatherOptions
    private let clock = ContinuousClock()
    /// One reading of both clocks: an attempt's wall-clock start is derived from
    /// its monotonic one, so the hot path reads one clock only.
    private let anchor = (wall: Date(), monotonic: ContinuousClock.now)
    private var slots: [Slot]
    /// The last error of each task that had one; few tasks fail, so it is kept apart.
    private var lastFailures: [Int: TaskFailure] = [:]
    /// The reasons `Slot.reason` points at; a run of tasks stopped for the same
    /// reason shares one entry.
    private var reasons: [TaskReason] = []
    /// For each task, the tasks that wait for it; empty when no task waits for any.
    private var dependents: [[Int]]
    /// Tasks ready at the start of a group without dependencies, started in
    /// task order before anything in `readyQueue` (an array of 100,000 indices
    /// would say no more).
    private var initialReady: Range<Int> = 0..<0
    /// Tasks ready to start, in the order they became ready.
    private var readyQueue: [Int] = []
    private var readyHead = 0
    private var retryDue: [(due: ContinuousClock.Instant, index: Int)] = []
    private var running = 0
    private var unfinished: Int
    private var stopStarting = false
    private var firstError: TaskFailure?
    private var jobFailure: TaskFailure?
    private var cancelReason: TaskReason?
    private var deadline: ContinuousClock.Instant?
    private var armedTimer: ContinuousClock.Instant?
    private let mailbox: GatherMailbox?
    private var mailboxWaiting = false
    private var poolWaiterID: UInt64?
    private var grantedSlots = 0
    /// After `cancelAll` every new child starts cancelled, so no timer or
    /// mailbox child is added any more (they would return at once, in a loop).
    private var groupCancelled = false

    /// - Parameters:
    ///   - names: the tasks' names, checked by ``DependencyGraph/problems(names:after:)``.
    ///   - after: each task's `after` list, or empty when no task has one (the
    ///     common case then needs no array of 100,000 empty lists).
    ///   - retryPolicies: the tasks with retries, by index.
    @usableFromInline
    init(names: [String], after: [[String]], retryPolicies: [Int: RetryPolicy], options: GatherOptions) {
        precondition(after.isEmpty || after.count == names.count, "one after list per task")
        self.names = names
        self.retryPolicies = retryPolicies
        self.options = options
        self.unfinished = names.count
        self.mailbox = (options.control != nil || options.slotPool != nil) ? GatherMailbox() : nil
        guard !after.isEmpty else {
            dependents = []
            slots = Array(repeating: Slot(phase: .ready, remaining: 0), count: names.count)
            initialReady = names.indices
            return
        }
        readyQueue.reserveCapacity(names.count)
        var dependents = [[Int]](repeating: [], count: names.count)
        var index: [String: Int] = [:]
        index.reserveCapacity(names.count)
        for (i, name) in names.enumerated() { index[name] = i }
        var slots: [Slot] = []
        slots.reserveCapacity(names.count)
        for (i, after) in after.enumerated() {
            // A name listed twice is one dependency: `remaining` counts each
            // dependency once, so each must be one entry in `dependents`.
            let unique = after.count > 1 ? Array(Set(after)) : after
            for name in unique { if let j = index[name] { dependents[j].append(i) } }
            if unique.isEmpty {
                slots.append(Slot(phase: .ready, remaining: 0))
                readyQueue.append(i)
            } else {
                slots.append(Slot(phase: .waiting, remaining: Int32(unique.count)))
            }
        }
        self.dependents = dependents
        self.slots = slots
    }


    /// True once every task has its final outcome.
    @usableFromInline
    var isFinished: Bool { unfinished == 0 }

    /// Arms the deadline, hooks up outside cancellation and starts what is ready.
    @usableFromInline
    mutating func begin(callerCancelled: Bool) {
        if let timeout = options.timeout { deadline = clock.now.advanced(by: timeout) }
        if let control = options.control, let mailbox {
            control.whenCancelled { _ in mailbox.post() }
        }
        if let deadline { arm(deadline) }
        if let mailbox { watchMailbox(mailbox) }
        afterEvent(callerCancelled: callerCancelled)
    }

    /// An attempt's body returned (`error == nil`) or threw; `stopRequested`:
    /// the attempt had been asked to stop when it finished.
    @usableFromInline
    mutating func attemptEnded(
        _ index: Int, error: (any Error)?, stopRequested: Bool, began: ContinuousClock.Instant,
        ended: ContinuousClock.Instant, callerCancelled: Bool
    ) {
        checkOutsideCancel(callerCancelled: callerCancelled)
        slots[index].began = Self.nanoseconds(anchor.monotonic.duration(to: began))
        attemptEnded(
            index, error: error, stopRequested: stopRequested, duration: Self.nanoseconds(began.duration(to: ended)))
        afterEvent(callerCancelled: callerCancelled)
    }

    /// A timer child returned.
    @usableFromInline
    mutating func timerFired(_ instant: ContinuousClock.Instant, callerCancelled: Bool) {
        checkOutsideCancel(callerCancelled: callerCancelled)
        if armedTimer == instant { armedTimer = nil }
        timerFired()
        afterEvent(callerCancelled: callerCancelled)
    }

    /// The mailbox child returned: a cancel request or a pool grant.
    @usableFromInline
    mutating func mailboxWoke(callerCancelled: Bool) {
        mailboxWaiting = false
        checkOutsideCancel(callerCancelled: callerCancelled)
        takeGrants()
        if unfinished > 0, let mailbox { watchMailbox(mailbox) }
        afterEvent(callerCancelled: callerCancelled)
    }

    private mutating func afterEvent(callerCancelled: Bool) {
        checkOutsideCancel(callerCancelled: callerCancelled)
        if stopStarting { returnGrants() }
    }

    /// Called once the loop is over, after the shell cancelled the leftovers;
    /// gives back pool slots and returns the results.
    @usableFromInline
    mutating func end() -> (tasks: [TaskResult], jobFailure: TaskFailure?, firstError: TaskFailure?, cancelReason: TaskReason?) {
        options.control?.clearWaiter()
        mailbox?.close()
        if let id = poolWaiterID, let pool = options.slotPool, !pool.cancelWait(id: id) {
            takeGrants()
        }
        returnGrants()
        let results = slots.indices.map(result(of:))
        // A later `.daemonStopping` after a `.cancelledByRequest` makes the
        // group interrupted (SPEC §5: interrupted > cancelled); the tasks keep
        // the reason they were stopped for.
        let finalReason = cancelReason.map { options.control?.reason ?? $0 }
        return (results, jobFailure, firstError, finalReason)
    }

    // MARK: Starting

    /// The next attempt to start, if the limits allow one now. The shell pulls
    /// starts one by one after every event (no array of 100,000 start actions).
    @usableFromInline
    mutating func nextStart() -> StartOrder? {
        guard !stopStarting, !initialReady.isEmpty || readyHead < readyQueue.count else {
            if readyHead > 0, readyHead == readyQueue.count {
                readyQueue.removeAll(keepingCapacity: true)
                readyHead = 0
            }
            return nil
        }
        if let limit = options.maxParallel, running >= limit { return nil }
        guard acquireSlot() else { return nil }
        let index: Int
        if let first = initialReady.first {
            index = first
            initialReady = initialReady.dropFirst()
        } else {
            index = readyQueue[readyHead]
            readyHead += 1
        }
        return StartOrder(index: index, attempt: start(index))
    }

    /// A shared-pool slot for one more attempt: one granted earlier, a free
    /// one, or a place in the queue (then false until the grant wakes us).
    private mutating func acquireSlot() -> Bool {
        guard let pool = options.slotPool, let mailbox else { return true }
        if grantedSlots > 0 { grantedSlots -= 1; return true }
        if poolWaiterID != nil { return false }
        if pool.tryAcquire() { return true }
        let id = pool.makeWaiterID()
        poolWaiterID = id
        pool.enqueue(id: id) { mailbox.grant() }
        return false
    }

    private mutating func returnGrants() {
        guard let pool = options.slotPool else { return }
        while grantedSlots > 0 {
            grantedSlots -= 1
            pool.release()
        }
    }

    private mutating func takeGrants() {
        guard let mailbox else { return }
        let granted = mailbox.takeGrants()
        if granted > 0 { poolWaiterID = nil }
        grantedSlots += granted
    }

    private mutating func start(_ index: Int) -> GatherAttempt {
        slots[index].attempts += 1
        let number = Int(slots[index].attempts)
        let name = names[index]
        let attempt = GatherAttempt(task: name, number: number)
        slots[index].attempt = attempt
        slots[index].phase = .running
        running += 1
        options.onEvent?(.attemptStarted(task: name, attempt: number))
        return attempt
    }

    // MARK: Ending

    private mutating func attemptEnded(_ index: Int, error: (any Error)?, stopRequested: Bool, duration: Int64) {
        guard slots[index].phase == .running, let attempt = slots[index].attempt else {
            fatalError("attempt of \(names[index]) ended while not running")
        }
        slots[index].attempt = nil
        running -= 1
        options.slotPool?.release()
        slots[index].duration = duration
        let name = names[index]
        // Without a request when it finished, none can come any more: no lock.
        switch stopRequested ? attempt.stopRequest : nil {
        case .timedOut(let limit)?:
            attemptFailed(index, TaskFailure(task: name, error: GatherTimeout(limit: limit, isJobDeadline: false), outcome: .timedOut))
        case .jobTimedOut(let limit)?:
            finishError(index, TaskFailure(task: name, error: GatherTimeout(limit: limit, isJobDeadline: true), outcome: .timedOut))
        case .cancelled(let reason)?:
            finish(index, outcome: .cancelled, reason: reason)
        case nil:
            switch error {
            case nil:
                finish(index, outcome: .succeeded)
            case let error? where error is CancellationError && cancelReason != nil:
                // Ended by the outer task's cancellation before a stop was recorded.
                finish(index, outcome: .cancelled, reason: cancelReason)
            case let error?:
                var outcome = (error as? any GatherTaskError)?.outcome ?? .failed
                if !outcome.isError { outcome = .failed }
                attemptFailed(index, TaskFailure(task: name, error: error, outcome: outcome))
            }
        }
    }

    private mutating func attemptFailed(_ index: Int, _ failure: TaskFailure) {
        let attempts = Int(slots[index].attempts)
        lastFailures[index] = failure
        guard !stopStarting, let task = retryPolicies[index], attempts <= task.retries else {
            finishError(index, failure)
            return
        }
        let delay = task.delay(beforeRetry: attempts)
        options.onEvent?(.attemptWillRetry(failure: failure, attempt: attempts, retry: attempts, retries: task.retries, delay: delay))
        slots[index].phase = .retryWait
        let due = clock.now.advanced(by: delay)
        retryDue.append((due, index))
        arm(due)
    }

    private mutating func finishError(_ index: Int, _ failure: TaskFailure) {
        lastFailures[index] = failure
        finish(index, outcome: failure.outcome, failure: failure)
    }

    private mutating func finish(
        _ index: Int, outcome: TaskOutcome, reason: TaskReason? = nil, failure: TaskFailure? = nil) {
        record(index, outcome: outcome, reason: reason, failure: failure)
        if let failure, firstError == nil {
            firstError = failure
            options.onEvent?(.firstError(failure))
            // Already stopping (job deadline, outside cancellation, the policy):
            // everything was stopped for that reason, which stays the reason.
            guard !stopStarting else { return }
            switch options.policy {
            case .collectAll: break
            case .failFast: stopAll(skipReason: .siblingFailed(failure.task), stopRunning: nil)
            case .cancelSiblings:
                stopAll(skipReason: .siblingFailed(failure.task), stopRunning: .cancelled(.siblingFailed(failure.task)))
            }
        }
    }

    /// A clock reading as `Slot` keeps it. Readings within one run are far
    /// from the 292 years that overflow 64 bits of nanoseconds.
    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    private func wallClock(nanosecondsAfterAnchor offset: Int64) -> Date {
        anchor.wall.addingTimeInterval(Double(offset) / 1e9)
    }

    /// The final result of a task that has its outcome.
    private func result(of index: Int) -> TaskResult {
        let slot = slots[index]
        guard let outcome = slot.outcome else { fatalError("task \(names[index]) has no outcome yet") }
        let ran = slot.attempts > 0
        return TaskResult(
            name: names[index], outcome: outcome, reason: slot.reason < 0 ? nil : reasons[Int(slot.reason)],
            attempts: Int(slot.attempts), failure: outcome.isError ? lastFailures[index] : nil,
            startedAt: ran && slot.began != .min ? wallClock(nanosecondsAfterAnchor: slot.began) : nil,
            duration: ran && slot.duration != .min ? .nanoseconds(slot.duration) : nil)
    }

    /// Records a final outcome and passes it on to the dependents: they become
    /// ready, or are skipped — iteratively, so a 10,000-task chain is no deep recursion.
    private mutating func record(_ index: Int, outcome: TaskOutcome, reason: TaskReason?, failure: TaskFailure?) {
        settle(index, outcome: outcome, reason: reason, failure: failure)
        guard !dependents.isEmpty, !dependents[index].isEmpty else { return }
        var pending = [(index, outcome)]
        while let (index, outcome) = pending.popLast() {
            for dependent in dependents[index] {
                guard slots[dependent].phase == .waiting else { continue }
                if outcome != .succeeded {
                    settle(dependent, outcome: .skipped, reason: .dependencyDidNotSucceed(names[index]), failure: nil)
                    pending.append((dependent, .skipped))
                } else if slots[dependent].remaining == 1 {
                    slots[dependent].phase = .ready
                    readyQueue.append(dependent)
                } else {
                    slots[dependent].remaining -= 1
                }
            }
        }
    }

    private mutating func settle(_ index: Int, outcome: TaskOutcome, reason: TaskReason?, failure: TaskFailure?) {
        slots[index].outcome = outcome
        if let reason {
            if reasons.last != reason { reasons.append(reason) }
            slots[index].reason = Int32(reasons.count - 1)
        }
        if let failure { lastFailures[index] = failure }
        slots[index].phase = .done
        unfinished -= 1
        if let onEvent = options.onEvent { onEvent(.taskEnded(result(of: index))) }
    }

    /// Stops starting: tasks not started are skipped, tasks waiting to retry
    /// keep their last outcome, running ones are asked to stop (if `stopRunning`).
    ///
    /// Every task not started gets `skipReason` — also one waiting for a task
    /// that is skipped here — and every running one `stopRunning`, before any
    /// task waiting to retry is finished with its error: that error must not
    /// set off the policy with a reason of its own in the middle of the stop.
    private mutating func stopAll(skipReason: TaskReason, stopRunning: StopRequest?) {
        stopStarting = true
        var retrying: [Int] = []
        for index in slots.indices {
            switch slots[index].phase {
            case .waiting, .ready:
                settle(index, outcome: .skipped, reason: skipReason, failure: nil)
            case .retryWait:
                retrying.append(index)
            case .running:
                if let stopRunning { slots[index].attempt?.requestStop(stopRunning) }
            case .done:
                break
            }
        }
        for index in retrying {
            if let failure = lastFailures[index] { finishError(index, failure) }
        }
        retryDue.removeAll()
        initialReady = 0..<0
        readyQueue.removeAll()
        readyHead = 0
        if stopRunning != nil {
            actions.append(.cancelAll)
            groupCancelled = true
            deadline = nil
        }
    }

    // MARK: Time and outside events

    private mutating func arm(_ due: ContinuousClock.Instant) {
        guard !groupCancelled else { return }
        if let armed = armedTimer, armed <= due { return }
        armedTimer = due
        actions.append(.arm(due))
    }

    private mutating func timerFired() {
        let now = clock.now
        if let deadline, deadline <= now, !stopStarting || running > 0 {
            self.deadline = nil
            jobDeadlinePassed()
        }
        var index = 0
        while index < retryDue.count {
            if retryDue[index].due <= now {
                let task = retryDue[index].index
                retryDue.remove(at: index)
                if slots[task].phase == .retryWait {
                    slots[task].phase = .ready
                    readyQueue.append(task)
                }
            } else {
                index += 1
            }
        }
        if let next = ([deadline].compactMap { $0 } + retryDue.map(\.due)).min() {
            arm(next)
        }
    }

    private mutating func jobDeadlinePassed() {
        guard let limit = options.timeout else { return }
        if running == 0 {
            jobFailure = TaskFailure(task: "job", error: GatherTimeout(limit: limit, isJobDeadline: false), outcome: .timedOut)
        }
        let reason: TaskReason = .jobTimedOut
        stopAll(skipReason: reason, stopRunning: .jobTimedOut(limit))
        if firstError == nil, let jobFailure {
            firstError = jobFailure
            options.onEvent?(.firstError(jobFailure))
        }
    }

    private mutating func checkOutsideCancel(callerCancelled: Bool) {
        guard cancelReason == nil else { return }
        let reason = options.control?.reason ?? (callerCancelled ? .cancelledByRequest : nil)
        guard let reason else { return }
        cancelReason = reason
        stopAll(skipReason: reason, stopRunning: .cancelled(reason))
    }

    private mutating func watchMailbox(_ mailbox: GatherMailbox) {
        let wanted = cancelReason == nil && (options.control != nil || (options.slotPool != nil && !stopStarting))
        guard !mailboxWaiting, !groupCancelled, wanted else { return }
        mailboxWaiting = true
        actions.append(.watchMailbox(mailbox))
    }
}
