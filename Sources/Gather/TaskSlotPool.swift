import Synchronization

/// Task slots shared by several groups (the daemon's `--max-tasks`),
/// on top of each group's own `maxParallel`.
///
/// Slots are handed out round-robin: a group takes a free slot at once only
/// when nobody waits; otherwise it queues, and each freed slot goes to the
/// group at the head of the queue, which queues again at the tail if it wants
/// more. A 10,000-task group therefore cannot starve a 3-task one.
public final class TaskSlotPool: Sendable {
    private struct Waiter {
        let id: UInt64
        let grant: @Sendable () -> Void
    }
    private struct State {
        var free: Int
        var inUse = 0
        var waiters: [Waiter] = []
        var head = 0
        var nextID: UInt64 = 0
    }
    private let state: Mutex<State>

    /// - Parameter slots: the number of tasks that may run at once across all groups.
    public init(slots: Int) {
        state = Mutex(State(free: max(1, slots)))
    }

    /// Free slots now.
    public var available: Int { state.withLock { $0.free } }
    /// Slots held now.
    public var inUse: Int { state.withLock { $0.inUse } }

    func makeWaiterID() -> UInt64 {
        state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
    }

    /// Takes a slot if one is free and nobody is queued.
    func tryAcquire() -> Bool {
        state.withLock { state in
            guard state.free > 0, state.head == state.waiters.count else { return false }
            state.free -= 1
            state.inUse += 1
            return true
        }
    }

    /// Queues for one slot; `grant` runs (outside the lock) when the slot is
    /// handed over, and the slot then belongs to the caller.
    func enqueue(id: UInt64, grant: @escaping @Sendable () -> Void) {
        let grantNow: Bool = state.withLock { state in
            if state.free > 0 && state.head == state.waiters.count {
                state.free -= 1
                state.inUse += 1
                return true
            }
            state.waiters.append(Waiter(id: id, grant: grant))
            return false
        }
        if grantNow { grant() }
    }

    /// Leaves the queue; returns false if the waiter was not queued (already granted).
    @discardableResult
    func cancelWait(id: UInt64) -> Bool {
        state.withLock { state in
            guard let index = state.waiters[state.head...].firstIndex(where: { $0.id == id }) else { return false }
            state.waiters.remove(at: index)
            return true
        }
    }

    /// Gives a slot back; it goes to the head of the queue if anyone waits.
    func release() {
        let next: Waiter? = state.withLock { state in
            if state.head < state.waiters.count {
                let waiter = state.waiters[state.head]
                state.head += 1
                if state.head > 64 && state.head * 2 > state.waiters.count {
                    state.waiters.removeFirst(state.head)
                    state.head = 0
                }
                return waiter
            }
            state.free += 1
            state.inUse -= 1
            return nil
        }
        next?.grant()
    }
}
