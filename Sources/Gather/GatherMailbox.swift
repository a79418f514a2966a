import Synchronization

/// Wakes a group's scheduler from outside its task group: a cancel request or
/// a slot granted by a shared ``TaskSlotPool``. One child task waits on it at a
/// time; `post` before `wait` is not lost.
@usableFromInline
final class GatherMailbox: Sendable {
    private struct State {
        var pending = false
        var closed = false
        var grants = 0
        var continuation: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    func post() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let continuation = state.continuation else {
                state.pending = true
                return nil
            }
            state.continuation = nil
            return continuation
        }
        continuation?.resume()
    }

    /// A pool slot was handed to this group.
    func grant() {
        state.withLock { $0.grants += 1 }
        post()
    }

    func takeGrants() -> Int {
        state.withLock { state in
            defer { state.grants = 0 }
            return state.grants
        }
    }

    /// Ends any wait, now and later.
    func close() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }

    /// Takes waits again after ``close()``: the clean-up tasks of a group run
    /// in a new task group once the first was cancelled (which closed it).
    func reopen() {
        state.withLock { $0.closed = false }
    }

    @usableFromInline
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending || state.closed || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.continuation = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            close()
        }
    }
}
