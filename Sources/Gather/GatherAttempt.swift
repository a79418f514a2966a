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

    private struct State {
        var request: StopRequest?
        var hook: (@Sendable (StopRequest) -> Void)?
        var finished = false
        /// When ``workEnded()`` was called, if it was.
        var workEnded: ContinuousClock.Instant?
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
            if let request = state.request { return request }
            state.hook = hook
            return nil
        }
        if let pending { hook(pending) }
    }

    /// The reason the engine asked this attempt to stop, if it did.
    public var stopRequest: StopRequest? {
        state.withLock { $0.request }
    }

    /// Tells the engine that the attempt's work has ended on its own — a child
    /// process's main process exited — while the body still cleans up (stops
    /// what the process left in its group, reads the rest of its output).
    ///
    /// From now on a stop request is ignored, so the outcome is what the work
    /// reports, not the reason of a stop that came during the clean-up (SPEC
    /// §5: a task ends when its main process exits); and the attempt's
    /// duration ends here. Returns the stop requested before, if any: then the
    /// engine decides the outcome from it, as usual.
    @discardableResult
    public func workEnded() -> StopRequest? {
        let now = ContinuousClock.now
        return state.withLock { state in
            if !state.finished {
                state.finished = true
                state.hook = nil
                state.workEnded = now
            }
            return state.request
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
            state.hook = nil
            return (state.request != nil, state.workEnded)
        }
    }

    /// Records the first stop request and runs the hook outside the lock.
    /// Returns false when a stop had already been requested.
    @usableFromInline @discardableResult
    func requestStop(_ request: StopRequest) -> Bool {
        let hook: (@Sendable (StopRequest) -> Void)?? = state.withLock { state in
            guard state.request == nil, !state.finished else { return .none }
            state.request = request
            let hook = state.hook
            state.hook = nil
            return .some(hook)
        }
        guard case .some(let registered) = hook else { return false }
        registered?(request)
        return true
    }
}
