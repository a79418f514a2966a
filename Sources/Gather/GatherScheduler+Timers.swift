// MARK: Time and outside events

extension GatherScheduler {
    mutating func arm(_ due: ContinuousClock.Instant) {
        guard !groupCancelled else { return }
        if let armed = armedTimer, armed <= due { return }
        armedTimer = due
        actions.append(.arm(due))
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
        stopAll(skipReason: reason, stopRunning: .jobTimedOut(limit))
        if firstError == nil, let jobFailure {
            firstError = jobFailure
            options.onEvent?(.firstError(jobFailure))
        }
    }

    mutating func checkOutsideCancel(callerCancelled: Bool) {
        guard cancelReason == nil else { return }
        let reason = options.control?.reason ?? (callerCancelled ? .cancelledByRequest : nil)
        guard let reason else { return }
        cancelReason = reason
        stopAll(skipReason: reason, stopRunning: .cancelled(reason))
    }

    mutating func watchMailbox(_ mailbox: GatherMailbox) {
        let wanted = cancelReason == nil && (options.control != nil || (options.slotPool != nil && !stopStarting))
        guard !mailboxWaiting, !groupCancelled, wanted else { return }
        mailboxWaiting = true
        actions.append(.watchMailbox(mailbox))
    }
}
