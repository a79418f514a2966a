/// An attempt the scheduler wants started.
@usableFromInline
struct StartOrder {
    @usableFromInline let index: Int
    /// The attempt's number, 1 for the first.
    @usableFromInline let number: Int
}

// MARK: Starting

extension GatherScheduler {
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
        return StartOrder(index: index, number: start(index))
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

    mutating func returnGrants() {
        guard let pool = options.slotPool else { return }
        while grantedSlots > 0 {
            grantedSlots -= 1
            pool.release()
        }
    }

    mutating func takeGrants() {
        guard let mailbox else { return }
        let granted = mailbox.takeGrants()
        if granted > 0 { poolWaiterID = nil }
        grantedSlots += granted
    }

    /// Returns the attempt's number.
    private mutating func start(_ index: Int) -> Int {
        slots[index].attempts += 1
        let number = Int(slots[index].attempts)
        attemptTable.begin(index, number)
        slots[index].phase = .running
        running += 1
        options.onEvent?(.attemptStarted(task: names[index], attempt: number))
        return number
    }
}
