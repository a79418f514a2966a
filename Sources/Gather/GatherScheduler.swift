#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The decisions behind ``gather(_:options:)->GatheredResults<Value>``, as a state machine that knows
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
        /// Add a timer child that returns at `due`, with its `id` in its message.
        case arm(ContinuousClock.Instant, id: Int64)
        /// Add a child that waits on the mailbox.
        case watchMailbox(GatherMailbox)
        /// Cancel every child (running attempts were already asked to stop).
        case cancelAll
    }

    enum Phase: UInt8 {
        /// Waiting for `Slot.remaining` distinct dependencies to succeed.
        case waiting
        case ready
        /// `Slot.attempt` is the attempt running.
        case running
        case retryWait
        case done
    }

    /// One task's state: 32 bytes, so that 100,000 tasks stay a few megabytes
    /// (the payload enum and optionals it replaced took ~100 bytes a task, and
    /// the allocation and page faults showed in the profile). Times are
    /// nanoseconds (the resolution of `ContinuousClock` on Linux), relative to
    /// `anchor`; `Int64.min` stands for none. A reason is an index into
    /// `reasons`, most tasks having none.
    struct Slot {
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
    let names: [String]
    /// The state of the tasks' attempts: stop requests, hooks.
    @usableFromInline
    let attemptTable: AttemptTable
    /// The tasks with `retries > 0`, by index.
    let retryPolicies: [Int: RetryPolicy]
    let options: GatherOptions
    let clock = ContinuousClock()
    /// One reading of both clocks: an attempt's wall-clock start is derived from
    /// its monotonic one, so the hot path reads one clock only.
    let anchor = (wall: Date(), monotonic: MonotonicTime.now())
    var slots: [Slot]
    /// The last error of each task that had one; few tasks fail, so it is kept apart.
    var lastFailures: [Int: TaskFailure] = [:]
    /// The reasons `Slot.reason` points at; a run of tasks stopped for the same
    /// reason shares one entry.
    var reasons: [TaskReason] = []
    /// For each task, the tasks that wait for it; empty when no task waits for any.
    private(set) var dependents: [[Int]]
    /// Tasks ready at the start of a group without dependencies, started in
    /// task order before anything in `readyQueue` (an array of 100,000 indices
    /// would say no more).
    var initialReady: Range<Int> = 0..<0
    /// Tasks ready to start, in the order they became ready.
    var readyQueue: [Int] = []
    var readyHead = 0
    var retryDue: [(due: ContinuousClock.Instant, index: Int)] = []
    var running = 0
    var unfinished: Int
    var stopStarting = false
    var firstError: TaskFailure?
    var jobFailure: TaskFailure?
    var cancelReason: TaskReason?
    var deadline: ContinuousClock.Instant?
    /// The earliest timer child running, if any, and its id.
    var armedTimer: (due: ContinuousClock.Instant, id: Int64)?
    var nextTimerID: Int64 = 0
    let mailbox: GatherMailbox?
    var mailboxWaiting = false
    var poolWaiterID: UInt64?
    var grantedSlots = 0
    /// After `cancelAll` every new child starts cancelled, so no timer or
    /// mailbox child is added any more (they would return at once, in a loop).
    var groupCancelled = false
    /// True when the shell streams the tasks' ends as they come.
    let reportsEnds: Bool
    /// The tasks that ended since the shell last took them, in the order they
    /// ended; kept only when `reportsEnds`.
    @usableFromInline
    var ended: [Int] = []

    // Clean-up (`finally`) tasks and `first-success`; see GatherScheduler+CleanUp.
    /// For each task, whether it is a clean-up task; empty when none is.
    let isFinally: [Bool]
    /// Each clean-up task's `after`, as task indices in list order.
    var finallyAfter: [Int: [Int]] = [:]
    /// Tasks that are not clean-up tasks and have no outcome yet (kept only
    /// when the group has clean-up tasks).
    var mainUnfinished: Int
    var cleanUp: CleanUpPhase
    /// The clean-up tasks are ready but the task group was cancelled (every
    /// child added to it would start cancelled): the shell must carry on in a
    /// new group, and call ``begin(callerCancelled:)`` again.
    @usableFromInline
    var needsFreshGroup = false
    /// The group's deadline as armed at the start; `deadline` is cleared when
    /// the group is cancelled, this is kept for the clean-up tasks.
    var jobDeadline: ContinuousClock.Instant?
    /// Under `first-success`: the task whose success ended the group.
    var firstSuccess: Int?

    /// - Parameters:
    ///   - names: the tasks' names, checked by ``DependencyGraph/problems(names:after:)``.
    ///   - after: each task's `after` list, or empty when no task has one (the
    ///     common case then needs no array of 100,000 empty lists).
    ///   - retryPolicies: the tasks with retries, by index.
    ///   - isFinally: for each task, whether it is a clean-up task; empty when none is.
    ///   - reportsEnds: keep the order in which tasks end, for the shell's stream.
    @usableFromInline
    init(
        names: [String], after: [[String]], retryPolicies: [Int: RetryPolicy], isFinally: [Bool] = [],
        options: GatherOptions, reportsEnds: Bool = false
    ) {
        precondition(after.isEmpty || after.count == names.count, "one after list per task")
        precondition(isFinally.isEmpty || isFinally.count == names.count, "one finally flag per task")
        self.names = names
        self.attemptTable = AttemptTable(names: names)
        self.retryPolicies = retryPolicies
        self.options = options
        self.reportsEnds = reportsEnds
        self.unfinished = names.count
        self.isFinally = isFinally
        let finallyCount = isFinally.count { $0 }
        self.mainUnfinished = names.count - finallyCount
        self.cleanUp = finallyCount > 0 ? .pending : .none
        self.mailbox = (options.control != nil || options.slotPool != nil) ? GatherMailbox() : nil
        guard !after.isEmpty || finallyCount > 0 else {
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
        var finallyAfter: [Int: [Int]] = [:]
        for i in names.indices {
            let after = after.isEmpty ? [] : after[i]
            // A clean-up task waits for every other task, outside the graph:
            // its `after` is looked at when the clean-up starts.
            if finallyCount > 0, isFinally[i] {
                finallyAfter[i] = after.compactMap { index[$0] }
                slots.append(Slot(phase: .waiting, remaining: 0))
                continue
            }
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
        self.finallyAfter = finallyAfter
    }

    /// True once every task has its final outcome.
    @usableFromInline
    var isFinished: Bool { unfinished == 0 }

    /// Arms the deadline, hooks up outside cancellation and starts what is
    /// ready; called again for the new task group of the clean-up tasks.
    @usableFromInline
    mutating func begin(callerCancelled: Bool) {
        guard !needsFreshGroup else {
            beginFreshGroup(callerCancelled: callerCancelled)
            return
        }
        if let timeout = options.timeout { deadline = clock.now.advanced(by: timeout) }
        jobDeadline = deadline
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
        _ index: Int, error: (any Error)?, stopRequested: Bool, began: Int64, ended: Int64, callerCancelled: Bool
    ) {
        checkOutsideCancel(callerCancelled: callerCancelled)
        slots[index].began = began - anchor.monotonic
        attemptEnded(index, error: error, stopRequested: stopRequested, duration: ended - began)
        afterEvent(callerCancelled: callerCancelled)
    }

    /// A timer child returned.
    @usableFromInline
    mutating func timerFired(id: Int64, callerCancelled: Bool) {
        checkOutsideCancel(callerCancelled: callerCancelled)
        if armedTimer?.id == id { armedTimer = nil }
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

    mutating func afterEvent(callerCancelled: Bool) {
        checkOutsideCancel(callerCancelled: callerCancelled)
        if cleanUp == .pending, mainUnfinished == 0 { startCleanUp() }
        if stopStarting { returnGrants() }
    }

    /// Called once the loop is over, after the shell cancelled the leftovers;
    /// gives back pool slots and returns the results.
    @usableFromInline
    mutating func end() -> (
        tasks: [TaskResult], jobFailure: TaskFailure?, firstError: TaskFailure?, cancelReason: TaskReason?,
        firstSuccess: String?
    ) {
        options.control?.clearWaiter()
        mailbox?.close()
        if let id = poolWaiterID, let pool = options.slotPool, !pool.cancelWait(id: id) {
            takeGrants()
        }
        returnGrants()
        let results = slots.indices.map(result(of:))
        // A later `.daemonStopping` after a `.cancelledByRequest` makes the
        // group interrupted (interrupted wins over cancelled); the tasks keep
        // the reason they were stopped for.
        let finalReason = cancelReason.map { options.control?.reason ?? $0 }
        return (results, jobFailure, firstError, finalReason, firstSuccess.map { names[$0] })
    }
}
