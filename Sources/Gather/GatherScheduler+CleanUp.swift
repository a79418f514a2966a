// MARK: Clean-up tasks and first-success

/// Where the clean-up (`finally`) tasks of a group stand.
enum CleanUpPhase: UInt8 {
    /// The group has none.
    case none
    /// Some task that is not a clean-up task has no outcome yet.
    case pending
    /// Every other task has ended; the clean-up tasks were released.
    case started
}

extension GatherScheduler {
    func isFinallyTask(_ index: Int) -> Bool {
        cleanUp != .none && isFinally[index]
    }

    /// Every task that is not a clean-up task has ended: the clean-up tasks
    /// start now, whatever the policy did — each only if the tasks of its own
    /// `after` succeeded. Those the deadline or a stop of the daemon skipped
    /// are already done.
    mutating func startCleanUp() {
        cleanUp = .started
        // A group stopped by its policy, a request or a first success watches
        // no deadline while its tasks stop: one that passed meanwhile keeps
        // the clean-up tasks from starting all the same.
        if let jobDeadline, clock.now >= jobDeadline {
            for index in isFinally.indices where isFinally[index] && slots[index].phase == .waiting {
                settle(index, outcome: .skipped, reason: .jobTimedOut, failure: nil)
            }
            return
        }
        var released = false
        for index in isFinally.indices where isFinally[index] && slots[index].phase == .waiting {
            let failed = finallyAfter[index]?.first { slots[$0].outcome != .succeeded }
            if let failed {
                settle(index, outcome: .skipped, reason: .dependencyDidNotSucceed(names[failed]), failure: nil)
            } else {
                slots[index].phase = .ready
                readyQueue.append(index)
                released = true
            }
        }
        guard released else { return }
        if groupCancelled {
            // Keep starting stopped until the shell has a group that is not cancelled.
            needsFreshGroup = true
        } else {
            stopStarting = false
            if let mailbox { watchMailbox(mailbox) }
        }
    }

    /// The shell's new task group for the clean-up tasks: the timers, the
    /// mailbox and starting come back as they were before the first group was
    /// cancelled.
    mutating func beginFreshGroup(callerCancelled: Bool) {
        needsFreshGroup = false
        groupCancelled = false
        armedTimer = nil
        mailboxWaiting = false
        stopStarting = false
        mailbox?.reopen()
        if let jobDeadline {
            deadline = jobDeadline
            arm(jobDeadline)
        }
        if let next = retryDue.map(\.due).min() { arm(next) }
        if let mailbox { watchMailbox(mailbox) }
        takeGrants()
        afterEvent(callerCancelled: callerCancelled)
    }

    /// Under `first-success`, a task succeeded: the first success of a task
    /// that is not a clean-up task, while the group still runs, ends it.
    /// Running tasks are cancelled, the rest — those waiting to retry too — skipped.
    mutating func succeeded(_ index: Int) {
        guard firstSuccess == nil, !stopStarting, !isFinallyTask(index) else { return }
        firstSuccess = index
        let reason = TaskReason.siblingSucceeded(names[index])
        stopAll(skipReason: reason, stopRunning: .cancelled(reason), skipRetrying: true)
    }

    /// A `.daemonStopping` cancel that came after a cancel request: the
    /// clean-up tasks the request let run are stopped now too.
    mutating func checkStopAfterRequest() {
        guard cleanUp != .none, cancelReason == .cancelledByRequest,
            options.control?.reason == .daemonStopping
        else { return }
        cancelReason = .daemonStopping
        stopAll(skipReason: .daemonStopping, stopRunning: .cancelled(.daemonStopping), skipCleanUp: true)
    }
}
