import Synchronization

/// Cancels a running group from outside, with a reason:
/// `.cancelledByRequest` gives the job state `cancelled`, `.daemonStopping`
/// gives `interrupted`. Cancellation is never counted as an error.
///
/// Running tasks are stopped with outcome `cancelled`, tasks not yet started are
/// `skipped`, a task waiting to retry keeps its last outcome. Cancelling the
/// Swift task that runs ``gather(_:options:)->GatheredResults<Value>`` has the effect of
/// `cancel(.cancelledByRequest)`.
public final class GatherControl: Sendable {
    private struct State {
        var reason: TaskReason?
        var waiter: (@Sendable (TaskReason) -> Void)?
    }
    private let state = Mutex(State())

    /// A control that has not cancelled anything yet; pass it in ``GatherOptions/control``.
    public init() {}

    /// Requests cancellation. The first reason given stops the tasks; a later
    /// `.daemonStopping` still replaces `.cancelledByRequest` as the group's
    /// reason, so a job cancelled by request and then cut short by a stop of
    /// the daemon is `interrupted` (`interrupted` wins over `cancelled`).
    public func cancel(_ reason: TaskReason) {
        let waiter: (@Sendable (TaskReason) -> Void)? = state.withLock { state in
            if state.reason == .cancelledByRequest, reason == .daemonStopping {
                state.reason = reason
                return nil
            }
            guard state.reason == nil else { return nil }
            state.reason = reason
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?(reason)
    }

    /// The reason given, once cancelled.
    public var reason: TaskReason? { state.withLock { $0.reason } }

    /// Registers the engine's wake-up; runs it at once if already cancelled.
    func whenCancelled(_ waiter: @escaping @Sendable (TaskReason) -> Void) {
        let reason: TaskReason? = state.withLock { state in
            if let reason = state.reason { return reason }
            state.waiter = waiter
            return nil
        }
        if let reason { waiter(reason) }
    }

    func clearWaiter() {
        state.withLock { $0.waiter = nil }
    }
}
