/// The watcher's timers by due time: a binary heap, so adding one or taking
/// the earliest costs O(log n) however many are pending (a 10,000-task job
/// sets a timer per process as it ends). Timers due at the same moment run in
/// the order they were added.
struct TimerQueue<Action> {
    private struct Entry {
        let due: UInt64
        let order: UInt64
        let action: Action
        func precedes(_ other: Entry) -> Bool { due != other.due ? due < other.due : order < other.order }
    }
    private var heap: [Entry] = []
    private var added: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    /// The earliest due time, if any.
    var nextDue: UInt64? { heap.first?.due }

    /// Adds a timer. Returns whether it is now the earliest.
    @discardableResult
    mutating func add(due: UInt64, _ action: Action) -> Bool {
        heap.append(Entry(due: due, order: added, action: action))
        added &+= 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
        return child == 0
    }

    /// Takes every timer due at or before `now`, earliest first.
    mutating func takeDue(now: UInt64) -> [Action] {
        var due: [Action] = []
        while let first = heap.first, first.due <= now {
            due.append(first.action)
            removeFirst()
        }
        return due
    }

    private mutating func removeFirst() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var first = parent
            if left < heap.count, heap[left].precedes(heap[first]) { first = left }
            if right < heap.count, heap[right].precedes(heap[first]) { first = right }
            guard first != parent else { return }
            heap.swapAt(parent, first)
            parent = first
        }
    }
}
