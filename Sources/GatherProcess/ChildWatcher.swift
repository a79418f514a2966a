import GatherSystem
import CLinux
import CSpawn
import Glibc
import Synchronization

/// Watches every child's exit on one thread: an `epoll` set of pidfds (a
/// pidfd becomes readable when its process ends) plus an `eventfd` to wake the
/// thread, with the nearest timer as the `epoll_wait` timeout. Sleeping
/// children cost nothing; each exit or timer costs one wake-up.
///
/// Timers (kill graces, group-drain polls) run short actions on this thread.
final class ChildWatcher: Sendable {
    private struct State {
        var watched: [UInt64: RunningProcess] = [:]
        var timers = TimerQueue<@Sendable () -> Void>()
        var nextToken: UInt64 = 1
    }

    private let epoll: Int32
    private let wake: Int32
    private let state = Mutex(State())

    /// Token 0 in the epoll set is the wake-up eventfd (``EventWait/makeEpollWithWake()``).
    private static let wakeToken: UInt64 = 0

    init() throws(SystemCallError) {
        (epoll, wake) = try EventWait.makeEpollWithWake().get()
        if case .failure(let errno) = OSThread.start(name: "gatherd-exits", detached: true, { [self] in run() }) {
            SystemCall.close(epoll)
            SystemCall.close(wake)
            throw SystemCallError("pthread_create", errno: errno)
        }
    }

    /// Starts watching `process` (its pidfd); its exit is delivered through
    /// `RunningProcess.exited(_:)` on this thread.
    func watch(_ process: RunningProcess) throws(SystemCallError) {
        let token = state.withLock { state in
            let token = state.nextToken
            state.nextToken += 1
            state.watched[token] = process
            return token
        }
        if case .failure(let error) = SystemCall.call("epoll_ctl", { clinux_epoll_add(epoll, process.pidfd, token) }) {
            _ = state.withLock { $0.watched.removeValue(forKey: token) }
            throw error
        }
    }

    /// Runs `action` on the watcher thread after `delay`. Actions must be short
    /// (a `kill`, resuming a continuation).
    func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) {
        let due = EventWait.monotonicNanoseconds() &+ delay.clampedNanoseconds
        let isEarliest = state.withLock { $0.timers.add(due: due, action) }
        if isEarliest {
            EventWait.signal(eventFD: wake)
        }
    }

    /// Sleeps on the watcher's clock. Unlike `Task.sleep` it ignores Swift
    /// cancellation: stopping a process must run to the end of its grace even
    /// when the task that stops it is being cancelled.
    func sleep(for delay: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            schedule(after: delay) { continuation.resume() }
        }
    }

    private func run() {
        let capacity = 256
        let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        while true {
            // An interrupted wait is retried with the timeout computed again,
            // so signals cannot postpone a due timer; nothing else can fail on
            // a valid epoll fd.
            let waited = SystemCall.call { clinux_epoll_wait(epoll, tokens, Int32(capacity), millisecondsToNextTimer()) }
            guard case .success(let count) = waited else { continue }
            for i in 0..<Int(count) {
                let token = tokens[i]
                if token == Self.wakeToken {
                    EventWait.drain(eventFD: wake)
                } else {
                    reap(token)
                }
            }
            fireTimers()
        }
    }

    private func millisecondsToNextTimer() -> Int32 {
        guard let due = state.withLock({ $0.timers.nextDue }) else { return -1 }
        let now = EventWait.monotonicNanoseconds()
        if due <= now { return 0 }
        // Round up so a timer never fires early.
        return Int32(min((due - now + 999_999) / 1_000_000, 60_000))
    }

    private func fireTimers() {
        let now = EventWait.monotonicNanoseconds()
        let due = state.withLock { $0.timers.takeDue(now: now) }
        for action in due { action() }
    }

    private func reap(_ token: UInt64) {
        guard let process = state.withLock({ $0.watched[token] }) else { return }
        var exited: Int32 = 0
        var value: Int32 = 0
        let result = cspawn_wait_pidfd(process.pidfd, &exited, &value)
        if result == 0 { return } // readable but not yet reapable; epoll reports it again
        _ = state.withLock { $0.watched.removeValue(forKey: token) }
        _ = clinux_epoll_del(epoll, process.pidfd)
        // On error (ECHILD: someone else reaped it) the status is lost; report a kill.
        let status: ExitStatus = result < 0 ? .signaled(SIGKILL) : (exited != 0 ? .exited(value) : .signaled(value))
        OrphanReaper.reaped(process.pid)
        process.exited(status)
    }
}
