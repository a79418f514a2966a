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
///
/// The same thread tells when a task's cgroup is empty: an inotify descriptor
/// in the epoll set watches the `cgroup.events` file of each cgroup someone
/// waits on (``waitUntilEmpty(_:within:)``); the kernel reports a change of
/// `populated` as `IN_MODIFY`. Only cgroups with processes left after their
/// task's exit are watched, and only while they are.
final class ChildWatcher: Sendable {
    private struct State {
        var watched: [UInt64: RunningProcess] = [:]
        var timers = TimerQueue<@Sendable () -> Void>()
        var nextToken: UInt64 = 1
        /// Waits for empty cgroups, by inotify watch descriptor.
        var emptyWaits: [Int32: [EmptyWait]] = [:]
        var nextWait: UInt64 = 1
    }

    /// Someone waiting for a cgroup to be empty.
    private struct EmptyWait {
        let id: UInt64
        let cgroup: Cgroup
        let continuation: CheckedContinuation<Bool, Never>
    }

    private let epoll: Int32
    private let wake: Int32
    private let inotify: Int32
    private let state = Mutex(State())

    /// Token 0 in the epoll set is the wake-up eventfd (``EventWait/makeEpollWithWake()``).
    private static let wakeToken: UInt64 = 0
    /// The inotify descriptor's token (process tokens count up from 1).
    private static let inotifyToken = UInt64.max

    init() throws(SystemCallError) {
        let (epoll, wake) = try EventWait.makeEpollWithWake().get()
        let inotify: Int32
        do throws(SystemCallError) {
            inotify = try SystemCall.call("inotify_init1") { inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) }.get()
            if case .failure(let error) = SystemCall.call("epoll_ctl", { clinux_epoll_add(epoll, inotify, Self.inotifyToken) }) {
                SystemCall.close(inotify)
                throw error
            }
        } catch {
            SystemCall.close(epoll)
            SystemCall.close(wake)
            throw error
        }
        self.epoll = epoll
        self.wake = wake
        self.inotify = inotify
        if case .failure(let errno) = OSThread.start(name: "gatherd-exits", detached: true, { [self] in run() }) {
            SystemCall.close(epoll)
            SystemCall.close(wake)
            SystemCall.close(inotify)
            throw SystemCallError("pthread_create", errno: errno)
        }
    }

    /// Waits until `cgroup` has no process left (`cgroup.events` `populated
    /// 0`), woken by inotify on this thread, not by polling. Returns false
    /// when `limit` passed first. Ignores Swift cancellation, like ``sleep(for:)``.
    func waitUntilEmpty(_ cgroup: Cgroup, within limit: Duration) async -> Bool {
        guard cgroup.isPopulated else { return true }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            // Added under the lock that removes watches: a second waiter on the
            // same cgroup (inotify gives the same descriptor) can never join
            // a watch the last waiter of the first is removing.
            let registered: (wd: Int32, id: UInt64)? = state.withLock { state in
                let wd = inotify_add_watch(inotify, cgroup.eventsPath, UInt32(IN_MODIFY))
                guard wd >= 0 else { return nil }
                let id = state.nextWait
                state.nextWait += 1
                state.emptyWaits[wd, default: []].append(EmptyWait(id: id, cgroup: cgroup, continuation: continuation))
                return (wd, id)
            }
            guard let (wd, id) = registered else {
                // No watch to be had (the per-user limit): look on the timer
                // thread instead, every 10 ms, as long as this lasts.
                pollUntilEmpty(cgroup, until: EventWait.monotonicNanoseconds() &+ limit.clampedNanoseconds, continuation)
                return
            }
            // Emptied between the first look and the watch: no event comes for that.
            if !cgroup.isPopulated {
                finishWait(wd: wd, id: id, empty: true)
            } else {
                schedule(after: limit) { [self] in finishWait(wd: wd, id: id, empty: nil) }
            }
        }
    }

    private func pollUntilEmpty(_ cgroup: Cgroup, until due: UInt64, _ continuation: CheckedContinuation<Bool, Never>) {
        let empty = !cgroup.isPopulated
        if empty || EventWait.monotonicNanoseconds() >= due {
            continuation.resume(returning: empty)
            return
        }
        schedule(after: .milliseconds(10)) { [self] in pollUntilEmpty(cgroup, until: due, continuation) }
    }

    /// Ends one wait (once: a second call finds nothing); the last wait on a
    /// watch removes it. `empty` nil: look at the cgroup now (the give-up timer).
    private func finishWait(wd: Int32, id: UInt64, empty: Bool?) {
        let wait: EmptyWait? = state.withLock { state in
            guard var waits = state.emptyWaits[wd], let index = waits.firstIndex(where: { $0.id == id }) else { return nil }
            let wait = waits.remove(at: index)
            state.emptyWaits[wd] = waits.isEmpty ? nil : waits
            if waits.isEmpty { _ = inotify_rm_watch(inotify, wd) }
            return wait
        }
        guard let wait else { return }
        wait.continuation.resume(returning: empty ?? !wait.cgroup.isPopulated)
    }

    /// On this thread: the watched `cgroup.events` files that changed.
    private func readCgroupEvents() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in read(inotify, raw.baseAddress, raw.count) }
            guard count > 0 else { return }
            let records = buffer.withUnsafeBytes { InotifyRecord.decode(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            // After a queue overflow any change may be lost: look at every wait.
            let overflowed = records.contains { $0.mask & UInt32(IN_Q_OVERFLOW) != 0 }
            let waits: [(wd: Int32, wait: EmptyWait)] = state.withLock { state in
                let watches = overflowed ? Array(state.emptyWaits.keys) : Array(Set(records.map(\.watch)))
                return watches.flatMap { wd in (state.emptyWaits[wd] ?? []).map { (wd, $0) } }
            }
            for (wd, wait) in waits where !wait.cgroup.isPopulated {
                finishWait(wd: wd, id: wait.id, empty: true)
            }
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
                } else if token == Self.inotifyToken {
                    readCgroupEvents()
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
