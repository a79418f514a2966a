import Synchronization

/// Handed to a task body for one attempt: which attempt it is, and the hook
/// through which the engine asks the work to stop.
///
/// A body that does not follow Swift cancellation quickly (a child process,
/// a blocking call) registers a stop hook; the engine calls it once, with the
/// reason, when it wants the attempt to end, and then waits for the body to
/// return. Swift cancellation of the attempt happens as well.
///
/// A value: a handle to its group's table of attempts, so that starting an
/// attempt allocates nothing. It may be kept and copied freely, but it speaks
/// for its attempt only while the attempt runs: once the body has returned, a
/// hook registered through it is dropped (or run at once with the stop
/// requested before, until the task's next attempt starts), and once another
/// attempt of the task has started, ``stopRequest`` is `nil` and
/// ``workEnded()`` does nothing.
public struct GatherAttempt: Sendable {
    @usableFromInline let table: AttemptTable
    @usableFromInline let index: Int
    /// 1 for the first attempt, 2 for the first retry, …
    public let number: Int

    @inlinable
    init(table: AttemptTable, index: Int, number: Int) {
        self.table = table
        self.index = index
        self.number = number
    }

    /// The task's name.
    public var task: String { table.names[index] }

    /// Registers the stop hook. If a stop was already requested the hook runs at once.
    public func onStop(_ hook: @escaping @Sendable (StopRequest) -> Void) {
        table.onStop(index, number, hook)
    }

    /// The reason the engine asked this attempt to stop, if it did.
    public var stopRequest: StopRequest? {
        table.stopRequest(index, number)
    }

    /// Tells the engine that the attempt's work has ended on its own — a child
    /// process's main process exited — while the body still cleans up (stops
    /// what the process left in its group, reads the rest of its output).
    ///
    /// From now on a stop request is ignored, so the outcome is what the work
    /// reports, not the reason of a stop that came during the clean-up (a task
    /// ends when its main process exits); and the attempt's
    /// duration ends here. Returns the stop requested before, if any: then the
    /// engine decides the outcome from it, as usual.
    @discardableResult
    public func workEnded() -> StopRequest? {
        table.workEnded(index, number)
    }

    /// Records the first stop request and runs the hook outside the lock.
    /// Returns false when a stop had already been requested or the attempt is over.
    @usableFromInline @discardableResult
    func requestStop(_ request: StopRequest) -> Bool {
        table.requestStop(index, number, request)
    }
}

/// The state of every attempt of a group: one atomic word per task for what
/// every attempt has (its number, whether it is over), and, under a lock, what
/// few attempts have — a stop request, a stop hook, the end of the work.
///
/// An attempt that nobody asks to stop and that registers no hook costs two
/// atomic operations on its task's word: one when it starts, one when its body
/// returns. (One object per attempt, with a lock of its own, cost an
/// allocation and a free per attempt: 100,000 in a group of 100,000 tasks.)
@usableFromInline
final class AttemptTable: @unchecked Sendable {  // `words` is written only through atomics
    /// For each task, `number << 2 | flags` of its latest attempt (0: none yet).
    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let count: Int
    /// The tasks' names, for ``GatherAttempt/task``.
    let names: [String]
    private let rare = Mutex<[Int: Rare]>([:])

    /// The attempt's body has returned, or its work ended: no stop is taken any more.
    private static let finished: UInt64 = 1
    /// The attempt has an entry in `rare`.
    private static let hasRare: UInt64 = 2

    private struct Rare {
        var request: StopRequest?
        var hook: (@Sendable (StopRequest) -> Void)?
        /// When ``GatherAttempt/workEnded()`` was called (``MonotonicTime``), if it was.
        var workEnded: Int64?
    }

    init(names: [String]) {
        self.names = names
        count = names.count
        words = .allocate(capacity: max(count, 1))
        for index in 0..<count { (words + index).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: count)
        words.deallocate()
    }

    /// Attempt `number` of task `index` starts. The task's previous attempt,
    /// if any, is over and the loop has read its outcome.
    @usableFromInline
    func begin(_ index: Int, _ number: Int) {
        if words[index].load(ordering: .relaxed) & Self.hasRare != 0 {
            _ = rare.withLock { $0.removeValue(forKey: index) }
        }
        words[index].store(UInt64(number) << 2, ordering: .releasing)
    }

    /// The body of attempt `number` has returned: a stop requested after this
    /// is ignored, so a task that ended on its own keeps its own outcome.
    /// Returns whether a stop had been requested (it no longer changes after
    /// this, so the loop reads it, under the lock, only when there is one) and
    /// when the work ended, if the body said so.
    @usableFromInline
    func markFinished(_ index: Int, _ number: Int) -> (stopRequested: Bool, workEnded: Int64?) {
        let plain = UInt64(number) << 2
        // The common case: nothing rare happened to this attempt; no lock.
        if words[index].compareExchange(expected: plain, desired: plain | Self.finished, ordering: .acquiringAndReleasing)
            .exchanged
        {
            return (false, nil)
        }
        return rare.withLock { rare in
            words[index].bitwiseOr(Self.finished, ordering: .releasing)
            guard rare[index] != nil else { return (false, nil) }
            rare[index]?.hook = nil
            return (rare[index]?.request != nil, rare[index]?.workEnded)
        }
    }

    func onStop(_ index: Int, _ number: Int, _ hook: @escaping @Sendable (StopRequest) -> Void) {
        let pending: StopRequest? = rare.withLock { rare in
            guard words[index].load(ordering: .acquiring) >> 2 == UInt64(number) else { return nil }  // long over
            if let request = rare[index]?.request { return request }
            guard markRare(index, number) else { return nil }
            rare[index, default: Rare()].hook = hook
            return nil
        }
        if let pending { hook(pending) }
    }

    /// Sets `flags` (`hasRare`, and `finished` for the end of the work) on
    /// attempt `number` if it is not over, so that its body's end takes the
    /// lock and sees what is recorded now. Called
    /// under the lock; returns false when the attempt is over. A compare and
    /// exchange, not a load and an or: the body's end may set `finished` in
    /// between without the lock.
    private func markRare(_ index: Int, _ number: Int, _ flags: UInt64 = hasRare) -> Bool {
        var word = words[index].load(ordering: .acquiring)
        while word >> 2 == UInt64(number), word & Self.finished == 0 {
            let (exchanged, original) = words[index].compareExchange(
                expected: word, desired: word | flags, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            word = original
        }
        return false
    }

    func stopRequest(_ index: Int, _ number: Int) -> StopRequest? {
        rare.withLock { rare in
            guard words[index].load(ordering: .acquiring) >> 2 == UInt64(number) else { return nil }
            return rare[index]?.request
        }
    }

    func workEnded(_ index: Int, _ number: Int) -> StopRequest? {
        let now = MonotonicTime.now()
        return rare.withLock { rare in
            guard words[index].load(ordering: .acquiring) >> 2 == UInt64(number) else { return nil }
            // Finish the attempt by compare and exchange, like `markRare`: the
            // body's lock-free end may set `finished` (and the loop begin the
            // next attempt) between a load and an or.
            if markRare(index, number, Self.finished | Self.hasRare) {
                rare[index, default: Rare()].hook = nil
                rare[index]?.workEnded = now
            }
            return rare[index]?.request
        }
    }

    /// Records the first stop request of attempt `number` and runs its hook
    /// outside the lock. Returns false when a stop had already been requested
    /// or the attempt is over.
    @usableFromInline @discardableResult
    func requestStop(_ index: Int, _ number: Int, _ request: StopRequest) -> Bool {
        let hook: (@Sendable (StopRequest) -> Void)?? = rare.withLock { rare in
            guard rare[index]?.request == nil, markRare(index, number) else { return .none }
            let hook = rare[index]?.hook
            rare[index, default: Rare()].request = request
            rare[index]?.hook = nil
            return .some(hook)
        }
        guard case .some(let registered) = hook else { return false }
        registered?(request)
        return true
    }
}
