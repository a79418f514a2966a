#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The scheduler behind ``gather(_:options:)``.
///
/// One task (the caller's) owns a task group and all state; child tasks run
/// attempts and report back through the group, so no state is shared and no
/// lock is taken on the hot path. Outside events (a cancel request, a slot
/// granted by a shared pool) wake the loop through a ``GatherMailbox`` child;
/// retry delays and the group deadline through one timer child at a time.
struct GatherEngine<Value: Sendable> {
    private enum Phase {
        case waiting(remaining: Int)
        case ready
        case running(GatherAttempt)
        case retryWait
        case done
    }

    private struct Slot {
        var phase: Phase
        var attempts = 0
        var lastResult: Result<Value, any Error>?
        var lastFailure: TaskFailure?
        var startedAt: Date?
        var duration: Duration?
        var result: TaskResult?
    }

    /// The two sides of an attempt with a timeout.
    private enum Race: Sendable {
        case body(Result<Value, any Error>)
        case timer(fired: Bool)
    }

    /// What a child task of the group returns.
    private enum Message: Sendable {
        case attemptEnded(index: Int, result: Result<Value, any Error>, duration: Duration)
        case timer(ContinuousClock.Instant)
        case mailbox
    }

    private let tasks: [GatherTask<Value>]
    private let options: GatherOptions
    private let clock = ContinuousClock()
    private var slots: [Slot]
    private var dependents: [[Int]]
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

    init(tasks: [GatherTask<Value>], options: GatherOptions) {
        self.tasks = tasks
        self.options = options
        var dependents = [[Int]](repeating: [], count: tasks.count)
        var index: [String: Int] = [:]
        if tasks.contains(where: { !$0.after.isEmpty }) {
            for (i, task) in tasks.enumerated() { index[task.name] = i }
        }
        var slots: [Slot] = []
        slots.reserveCapacity(tasks.count)
        for (i, task) in tasks.enumerated() {
            for name in task.after { if let j = index[name] { dependents[j].append(i) } }
            slots.append(Slot(phase: task.after.isEmpty ? .ready : .waiting(remaining: Set(task.after).count)))
        }
        self.dependents = dependents
        self.slots = slots
        self.unfinished = tasks.count
        self.mailbox = (options.control != nil || options.slotPool != nil) ? GatherMailbox() : nil
        readyQueue.reserveCapacity(tasks.count)
        for i in slots.indices where task(i).after.isEmpty { readyQueue.append(i) }
    }

    private func task(_ i: Int) -> GatherTask<Value> { tasks[i] }

    mutating func run() async -> GatheredResults<Value> {
        if let timeout = options.timeout { deadline = clock.now.advanced(by: timeout) }
        if let control = options.control, let mailbox {
            control.whenCancelled { _ in mailbox.post() }
        }
        await withTaskGroup(of: Message.self) { group in
            if let deadline { arm(deadline, in: &group) }
            if let mailbox { watchMailbox(mailbox, in: &group) }
            checkOutsideCancel(in: &group)
            startReady(in: &group)
            while unfinished > 0, let message = await group.next() {
                checkOutsideCancel(in: &group)
                switch message {
                case .attemptEnded(let index, let result, let duration):
                    attemptEnded(index, result: result, duration: duration, in: &group)
                case .timer(let instant):
                    if armedTimer == instant { armedTimer = nil }
                    timerFired(in: &group)
                case .mailbox:
                    mailboxWaiting = false
                    takeGrants()
                    if unfinished > 0, let mailbox { watchMailbox(mailbox, in: &group) }
                }
                startReady(in: &group)
                if stopStarting { returnGrants() }
            }
            // Only stale timers and the mailbox can be left; end them.
            options.control?.clearWaiter()
            mailbox?.close()
            group.cancelAll()
        }
        if let id = poolWaiterID, let pool = options.slotPool, !pool.cancelWait(id: id) {
            takeGrants()
        }
        returnGrants()
        return GatheredResults(
            tasks: slots.map { $0.result! },
            lastAttempts: slots.map(\.lastResult),
            jobFailure: jobFailure,
            firstError: firstError,
            cancelReason: cancelReason
        )
    }

    // MARK: Starting

    private mutating func startReady(in group: inout TaskGroup<Message>) {
        while !stopStarting, readyHead < readyQueue.count {
            if let limit = options.maxParallel, running >= limit { return }
            guard acquireSlot() else { return }
            let index = readyQueue[readyHead]
            readyHead += 1
            start(index, in: &group)
        }
        if readyHead == readyQueue.count, readyHead > 0 {
            readyQueue.removeAll(keepingCapacity: true)
            readyHead = 0
        }
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

    private mutating func start(_ index: Int, in group: inout TaskGroup<Message>) {
        slots[index].attempts += 1
        let number = slots[index].attempts
        let task = tasks[index]
        let attempt = GatherAttempt(task: task.name, number: number)
        slots[index].phase = .running(attempt)
        slots[index].startedAt = Date()
        running += 1
        options.onEvent?(.attemptStarted(task: task.name, attempt: number))
        let clock = self.clock
        group.addTask {
            let began = clock.now
            let result = await Self.runAttempt(task, attempt)
            attempt.markFinished()
            return .attemptEnded(index: index, result: result, duration: began.duration(to: clock.now))
        }
    }

    /// One attempt; with a timeout, the body races a sleep in a small group of
    /// its own so that only this attempt is cancelled when time runs out.
    private static func runAttempt(_ task: GatherTask<Value>, _ attempt: GatherAttempt) async -> Result<Value, any Error> {
        guard let timeout = task.timeout else {
            do { return .success(try await task.body(attempt)) } catch { return .failure(error) }
        }
        return await withTaskGroup(of: Race.self) { race in
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

    // MARK: Ending

    private mutating func attemptEnded(
        _ index: Int, result: Result<Value, any Error>, duration: Duration, in group: inout TaskGroup<Message>
    ) {
        guard case .running(let attempt) = slots[index].phase else {
            fatalError("attempt of \(tasks[index].name) ended while not running")
        }
        running -= 1
        options.slotPool?.release()
        slots[index].lastResult = result
        slots[index].duration = duration
        let name = tasks[index].name
        switch attempt.stopRequest {
        case .timedOut(let limit)?:
            attemptFailed(index, TaskFailure(task: name, error: GatherTimeout(limit: limit, isJobDeadline: false), outcome: .timedOut), in: &group)
        case .jobTimedOut(let limit)?:
            finishError(index, TaskFailure(task: name, error: GatherTimeout(limit: limit, isJobDeadline: true), outcome: .timedOut), in: &group)
        case .cancelled(let reason)?:
            finish(index, outcome: .cancelled, reason: reason, in: &group)
        case nil:
            switch result {
            case .success:
                finish(index, outcome: .succeeded, in: &group)
            case .failure(let error) where error is CancellationError && cancelReason != nil:
                // Ended by the outer task's cancellation before a stop was recorded.
                finish(index, outcome: .cancelled, reason: cancelReason, in: &group)
            case .failure(let error):
                var outcome = (error as? any GatherTaskError)?.outcome ?? .failed
                if !outcome.isError { outcome = .failed }
                attemptFailed(index, TaskFailure(task: name, error: error, outcome: outcome), in: &group)
            }
        }
    }

    private mutating func attemptFailed(_ index: Int, _ failure: TaskFailure, in group: inout TaskGroup<Message>) {
        let task = tasks[index]
        let attempts = slots[index].attempts
        slots[index].lastFailure = failure
        guard !stopStarting, attempts <= task.retries else {
            finishError(index, failure, in: &group)
            return
        }
        let delay = task.delay(beforeRetry: attempts)
        options.onEvent?(.attemptWillRetry(failure: failure, attempt: attempts, retry: attempts, retries: task.retries, delay: delay))
        slots[index].phase = .retryWait
        let due = clock.now.advanced(by: delay)
        retryDue.append((due, index))
        arm(due, in: &group)
    }

    private mutating func finishError(_ index: Int, _ failure: TaskFailure, in group: inout TaskGroup<Message>) {
        slots[index].lastFailure = failure
        finish(index, outcome: failure.outcome, failure: failure, in: &group)
    }

    private mutating func finish(
        _ index: Int, outcome: TaskOutcome, reason: TaskReason? = nil, failure: TaskFailure? = nil,
        in group: inout TaskGroup<Message>
    ) {
        record(index, outcome: outcome, reason: reason, failure: failure)
        if let failure, firstError == nil {
            firstError = failure
            options.onEvent?(.firstError(failure))
            switch options.policy {
            case .collectAll: break
            case .failFast: stopAll(skipReason: .siblingFailed(failure.task), stopRunning: nil, in: &group)
            case .cancelSiblings:
                stopAll(skipReason: .siblingFailed(failure.task), stopRunning: .cancelled(.siblingFailed(failure.task)), in: &group)
            }
        }
    }

    /// Records a final outcome and passes it on to the dependents: they become
    /// ready, or are skipped — iteratively, so a 10,000-task chain is no deep recursion.
    private mutating func record(_ index: Int, outcome: TaskOutcome, reason: TaskReason?, failure: TaskFailure?) {
        var pending = [(index, outcome, reason, failure)]
        while let (index, outcome, reason, failure) = pending.popLast() {
            let slot = slots[index]
            let result = TaskResult(
                name: tasks[index].name, outcome: outcome, reason: reason, attempts: slot.attempts,
                failure: failure, startedAt: slot.attempts > 0 ? slot.startedAt : nil,
                duration: slot.attempts > 0 ? slot.duration : nil)
            slots[index].result = result
            slots[index].phase = .done
            unfinished -= 1
            options.onEvent?(.taskEnded(result))
            for dependent in dependents[index] {
                guard case .waiting(let remaining) = slots[dependent].phase else { continue }
                if outcome != .succeeded {
                    // Marked done now so a second failed dependency does not skip it twice.
                    slots[dependent].phase = .done
                    pending.append((dependent, .skipped, .dependencyDidNotSucceed(tasks[index].name), nil))
                } else if remaining == 1 {
                    slots[dependent].phase = .ready
                    readyQueue.append(dependent)
                } else {
                    slots[dependent].phase = .waiting(remaining: remaining - 1)
                }
            }
        }
    }

    /// Stops starting: tasks not started are skipped, tasks waiting to retry
    /// keep their last outcome, running ones are asked to stop (if `stopRunning`).
    private mutating func stopAll(skipReason: TaskReason, stopRunning: StopRequest?, in group: inout TaskGroup<Message>) {
        stopStarting = true
        for index in slots.indices {
            switch slots[index].phase {
            case .waiting, .ready:
                finish(index, outcome: .skipped, reason: skipReason, in: &group)
            case .retryWait:
                if let failure = slots[index].lastFailure { finishError(index, failure, in: &group) }
            case .running(let attempt):
                if let stopRunning { attempt.requestStop(stopRunning) }
            case .done:
                break
            }
        }
        retryDue.removeAll()
        readyQueue.removeAll()
        readyHead = 0
        if stopRunning != nil {
            group.cancelAll()
            groupCancelled = true
            deadline = nil
        }
    }

    // MARK: Time and outside events

    private mutating func arm(_ due: ContinuousClock.Instant, in group: inout TaskGroup<Message>) {
        guard !groupCancelled else { return }
        if let armed = armedTimer, armed <= due { return }
        armedTimer = due
        let clock = self.clock
        group.addTask {
            try? await Task.sleep(until: due, clock: clock)
            return .timer(due)
        }
    }

    private mutating func timerFired(in group: inout TaskGroup<Message>) {
        let now = clock.now
        if let deadline, deadline <= now, !stopStarting || running > 0 {
            self.deadline = nil
            jobDeadlinePassed(in: &group)
        }
        var index = 0
        while index < retryDue.count {
            if retryDue[index].due <= now {
                let task = retryDue[index].index
                retryDue.remove(at: index)
                if case .retryWait = slots[task].phase {
                    slots[task].phase = .ready
                    readyQueue.append(task)
                }
            } else {
                index += 1
            }
        }
        if let next = ([deadline].compactMap { $0 } + retryDue.map(\.due)).min() {
            arm(next, in: &group)
        }
    }

    private mutating func jobDeadlinePassed(in group: inout TaskGroup<Message>) {
        guard let limit = options.timeout else { return }
        if running == 0 {
            jobFailure = TaskFailure(task: "job", error: GatherTimeout(limit: limit, isJobDeadline: false), outcome: .timedOut)
        }
        let reason: TaskReason = .jobTimedOut
        stopAll(skipReason: reason, stopRunning: .jobTimedOut(limit), in: &group)
        if firstError == nil, let jobFailure {
            firstError = jobFailure
            options.onEvent?(.firstError(jobFailure))
        }
    }

    private mutating func checkOutsideCancel(in group: inout TaskGroup<Message>) {
        guard cancelReason == nil else { return }
        let reason = options.control?.reason ?? (Task.isCancelled ? .cancelledByRequest : nil)
        guard let reason else { return }
        cancelReason = reason
        stopAll(skipReason: reason, stopRunning: .cancelled(reason), in: &group)
    }

    private mutating func watchMailbox(_ mailbox: GatherMailbox, in group: inout TaskGroup<Message>) {
        let wanted = cancelReason == nil && (options.control != nil || (options.slotPool != nil && !stopStarting))
        guard !mailboxWaiting, !groupCancelled, wanted else { return }
        mailboxWaiting = true
        group.addTask {
            await mailbox.wait()
            return .mailbox
        }
    }
}
