// MARK: Time and outside events

extension GatherScheduler {
    mutating func arm(_ due: ContinuousClock.Instant) {
        guard !groupCancelled else { return }
        if let armed = armedTimer, armed.due <= due { return }
        nextTimerID += 1
        armedTimer = (due, nextTimerID)
        actions.append(.arm(due, id: nextTimerID))
    }

    mutating func timerFired() {
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
        stopAll(skipReason: reason, stopRunning: .jobTimedOut(limit), skipCleanUp: true)
        if firstError == nil, let jobFailure {
            firstError = jobFailure
            options.onEvent?(.firstError(jobFailure))
        }
    }

    mutating func checkOutsideCancel(callerCancelled: Bool) {
        guard cancelReason == nil else {
            checkStopAfterRequest()
            return
        }
        let reason = options.control?.reason ?? (callerCancelled ? .cancelledByRequest : nil)
        guard let reason else { return }
        cancelReason = reason
        // Clean-up tasks still run after a cancel request, not when the daemon
        // stops, nor when the calling Swift task is cancelled (a child started
        // then would start cancelled).
        let skipCleanUp = reason == .daemonStopping || reason == .daemonRestarted || options.control?.reason == nil
        stopAll(skipReason: reason, stopRunning: .cancelled(reason), skipCleanUp: skipCleanUp)
    }

    mutating func watchMailbox(_ mailbox: GatherMailbox) {
        // After a cancel request the clean-up tasks may still run: a stop of
        // the daemon must then reach them, and the pool grant their slots.
        let open = cancelReason == nil || (cancelReason == .cancelledByRequest && cleanUp != .none)
        let wanted = open && (options.control != nil || (options.slotPool != nil && !stopStarting))
        guard !mailboxWaiting, !groupCancelled, wanted else { return }
        mailboxWaiting = true
        actions.append(.watchMailbox(mailbox))
    }
}
