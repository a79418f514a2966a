import Synchronization

/// Handed to a task body for one attempt: which attempt it is, and the hook
/// through which the engine asks the work to stop.
///
/// A body that does not follow Swift cancellation quickly (a child process,
/// a blocking call) registers a stop hook; the engine calls it once, with the
/// reason, when it wants the attempt to end, and then waits for the body to
/// return. Swift cancellation of the attempt happens as well.
public final class GatherAttempt: Sendable {
    /// The task's name.
    public let task: String
    /// 1 for the first attempt, 2 for the first retry, …
    public let number: Int

    /// What most attempts never need — a stop request, a hook, the end of the
    /// work — boxed, so that the attempt itself stays small: a group of
    /// 100,000 tasks has 100,000 attempts alive at once.
    private final class Rare {
        var request: StopRequest?
        var hook: (@Sendable (StopRequest) -> Void)?
        /// When ``workEnded()`` was called, if it was.
        var workEnded: ContinuousClock.Instant?
    }
    private struct State {
        var finished = false
        /// Allocated at the first stop request, hook or end of work; read and
        /// written only under the lock.
        var rare: Rare?

        /// The box, allocated if needed.
        mutating func box() -> Rare {
            if let rare { return rare }
            let made = Rare()
            rare = made
            return made
        }
    }
    private let state = Mutex(State())

    @usableFromInline
    init(task: String, number: Int) {
        self.task = task
        self.number = number
    }

    /// Registers the stop hook. If a stop was already requested the hook runs at once.
    public func onStop(_ hook: @escaping @Sendable (StopRequest) -> Void) {
        let pending: StopRequest? = state.withLock { state in
            if let request = state.rare?.request { return request }
            if !state.finished { state.box().hook = hook }
            return nil
        }
        if let pending { hook(pending) }
    }

    /// The reason the engine asked this attempt to stop, if it did.
    public var stopRequest: StopRequest? {
        state.withLock { $0.rare?.request }
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
        let now = ContinuousClock.now
        return state.withLock { state in
            if !state.finished {
                state.finished = true
                let rare = state.box()
                rare.hook = nil
                rare.workEnded = now
            }
            return state.rare?.request
        }
    }

    /// Called when the body has returned: a stop requested after this is ignored,
    /// so a task that ended on its own keeps its own outcome. Returns whether a
    /// stop had been requested (`stopRequest` no longer changes after this, so
    /// the loop reads it, and takes the lock, only when there is one) and when
    /// the work ended, if the body said so with ``workEnded()``.
    @usableFromInline
    func markFinished() -> (stopRequested: Bool, workEnded: ContinuousClock.Instant?) {
        state.withLock { state in
            state.finished = true
            guard let rare = state.rare else { return (false, nil) }
            rare.hook = nil
            return (rare.request != nil, rare.workEnded)
        }
    }

    /// Records the first stop request and runs the hook outside the lock.
    /// Returns false when a stop had already been requested.
    @usableFromInline @discardableResult
    func requestStop(_ request: StopRequest) -> Bool {
        let hook: (@Sendable (StopRequest) -> Void)?? = state.withLock { state in
            guard state.rare?.request == nil, !state.finished else { return .none }
            let rare = state.box()
            rare.request = request
            let hook = rare.hook
            rare.hook = nil
            return .some(hook)
        }
        guard case .some(let registered) = hook else { return false }
        registered?(request)
        return true
    }
}
