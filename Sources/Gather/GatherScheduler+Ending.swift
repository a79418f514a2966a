#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// MARK: Ending

extension GatherScheduler {
    mutating func attemptEnded(_ index: Int, error: (any Error)?, stopRequested: Bool, duration: Int64) {
        guard slots[index].phase == .running else {
            fatalError("attempt of \(names[index]) ended while not running")
        }
        running -= 1
        options.slotPool?.release()
        slots[index].duration = duration
        let name = names[index]
        // Without a request when it finished, none can come any more: no lock.
        switch stopRequested ? attemptTable.stopRequest(index, Int(slots[index].attempts)) : nil {
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
        guard !stopStarting, let task = retryPolicies[index], attempts <= task.retries, task.allowsRetry(of: failure) else {
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
        if options.policy == .firstSuccess, outcome == .succeeded {
            succeeded(index)
        } else if let failure, firstError == nil {
            firstError = failure
            options.onEvent?(.firstError(failure))
            // Already stopping (job deadline, outside cancellation, the policy):
            // everything was stopped for that reason, which stays the reason.
            // The clean-up tasks all run, whatever one of them does.
            guard !stopStarting, cleanUp != .started else { return }
            switch options.policy {
            case .collectAll, .firstSuccess: break
            case .failFast: stopAll(skipReason: .siblingFailed(failure.task), stopRunning: nil)
            case .cancelSiblings:
                stopAll(skipReason: .siblingFailed(failure.task), stopRunning: .cancelled(.siblingFailed(failure.task)))
            }
        }
    }

    private func wallClock(nanosecondsAfterAnchor offset: Int64) -> Date {
        anchor.wall.addingTimeInterval(Double(offset) / 1e9)
    }

    /// The final result of a task that has its outcome.
    @usableFromInline
    func result(of index: Int) -> TaskResult {
        let slot = slots[index]
        guard let outcome = slot.outcome else { fatalError("task \(names[index]) has no outcome yet") }
        let ran = slot.attempts > 0
        return TaskResult(
            name: names[index], outcome: outcome, reason: slot.reason < 0 ? nil : reasons[Int(slot.reason)],
            attempts: Int(slot.attempts), failure: outcome.isError ? lastFailures[index] : nil,
            startedAt: ran && slot.began != .min ? wallClock(nanosecondsAfterAnchor: slot.began) : nil,
            duration: ran && slot.duration != .min ? .nanoseconds(slot.duration) : nil,
            isFinally: isFinallyTask(index))
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

    mutating func settle(_ index: Int, outcome: TaskOutcome, reason: TaskReason?, failure: TaskFailure?) {
        slots[index].outcome = outcome
        if let reason {
            if reasons.last != reason { reasons.append(reason) }
            slots[index].reason = Int32(reasons.count - 1)
        }
        if let failure { lastFailures[index] = failure }
        slots[index].phase = .done
        unfinished -= 1
        if cleanUp != .none, !isFinally[index] { mainUnfinished -= 1 }
        if reportsEnds { ended.append(index) }
        if let onEvent = options.onEvent { onEvent(.taskEnded(result(of: index))) }
    }

    /// Stops starting: tasks not started are skipped, tasks waiting to retry
    /// keep their last outcome (or are skipped too, with `skipRetrying`),
    /// running ones are asked to stop (if `stopRunning`).
    ///
    /// Every task not started gets `skipReason` — also one waiting for a task
    /// that is skipped here — and every running one `stopRunning`, before any
    /// task waiting to retry is finished with its error: that error must not
    /// set off the policy with a reason of its own in the middle of the stop.
    /// Clean-up tasks not yet started still start once the rest has ended,
    /// unless `skipCleanUp` or the clean-up has already begun.
    mutating func stopAll(
        skipReason: TaskReason, stopRunning: StopRequest?, skipCleanUp: Bool = false, skipRetrying: Bool = false
    ) {
        stopStarting = true
        let keepCleanUp = cleanUp == .pending && !skipCleanUp
        var retrying: [Int] = []
        for index in slots.indices {
            switch slots[index].phase {
            case .ready where slots[index].attempts > 0 && !skipRetrying:
                // A retry that was due but had no free slot yet: still a task
                // waiting to retry, which keeps its last outcome.
                retrying.append(index)
            case .waiting, .ready:
                if keepCleanUp, isFinally[index] { continue }
                settle(index, outcome: .skipped, reason: skipReason, failure: nil)
            case .retryWait where skipRetrying:
                settle(index, outcome: .skipped, reason: skipReason, failure: nil)
            case .retryWait:
                retrying.append(index)
            case .running:
                if let stopRunning { attemptTable.requestStop(index, Int(slots[index].attempts), stopRunning) }
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
}
