import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's own threads: plain pthreads (no Foundation, no Swift task),
/// each running one blocking loop over one kind of event source (inotify,
/// signals, child exits, output pipes, the journal writer). The one way every
/// target starts a thread, so `top -H` shows each by name.
public enum OSThread {
    /// Starts a thread running `body`.
    /// - Parameters:
    ///   - name: shown in `top -H` and `/proc/PID/task/*/comm`; cut to 15 bytes.
    ///   - detached: detach it at once (it ends on its own); otherwise the caller joins it.
    ///   - body: the loop.
    /// - Returns: the thread, or the errno when the process is out of threads or memory.
    @discardableResult
    public static func start(
        name: String, detached: Bool = false, _ body: @escaping @Sendable () -> Void
    ) -> Result<pthread_t, Errno> {
        let box = Unmanaged.passRetained(ThreadBody(name: name, body: body))
        var thread = pthread_t()
        let started = SystemCall.callReturningError {
            pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                let box = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
                _ = clinux_name_this_thread(box.name)
                box.body()
                return nil
            }, box.toOpaque())
        }
        if case .failure(let errno) = started {
            box.release()
            return .failure(errno)
        }
        if detached { pthread_detach(thread) }
        return .success(thread)
    }

    /// Waits for a thread started with `detached: false` to end.
    public static func join(_ thread: pthread_t) {
        pthread_join(thread, nil)
    }
}

/// What a pthread runs; a class so it can cross the C boundary as a pointer.
private final class ThreadBody {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}
