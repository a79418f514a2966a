import GatherSystem
import Glibc
import Synchronization

/// A started child process: the leader of its own session and process group
/// (its pid is also its process group ID).
///
/// Wait with ``exitStatus()``; stop with ``terminate(grace:)``; after the exit
/// stop what is left in the group with ``stopRemaining(grace:)``.
public final class RunningProcess: Sendable {
    /// The process ID, also the process group and session ID.
    public let pid: pid_t
    /// Close-on-exec pidfd; closed once the process is reaped.
    let pidfd: Int32
    /// When it was spawned (monotonic).
    public let spawnedAt: ContinuousClock.Instant

    private struct State {
        var status: ExitStatus?
        var exitWaiters: [CheckedContinuation<ExitStatus, Never>] = []
        var openStreams = 2
        var outputWaiters: [CheckedContinuation<Void, Never>] = []
        var tail = LastBytesRing()
        var killAt: ContinuousClock.Instant?
        /// The leader was reaped and the group seen empty: from then on the
        /// group ID may belong to someone else (pids wrap within seconds at
        /// high spawn rates), so the group is never signalled again.
        var groupGone = false
    }
    private let state = Mutex(State())
    private let watcher: ChildWatcher
    private let reader: OutputReader

    /// Field 22 of `/proc/PID/stat` (start time in clock ticks since boot), as
    /// the child read it before it exec'd: with the pid it names this process
    /// even after the pid is reused. Nil when it could not be read.
    public let startTime: UInt64?
    /// Why the child could not append its line to ``ProcessSpec/record``'s
    /// log; nil when it did (or none was asked for). The caller records the group then.
    public let recordError: Errno?

    /// The cgroup it started in with everything it starts (SPEC §11); nil:
    /// process groups only.
    public let cgroup: Cgroup?

    init(
        pid: pid_t, pidfd: Int32, cgroup: Cgroup? = nil, startTime: UInt64? = nil, recordError: Errno? = nil,
        watcher: ChildWatcher, reader: OutputReader
    ) {
        self.cgroup = cgroup
        self.pid = pid
        self.pidfd = pidfd
        self.startTime = startTime
        self.recordError = recordError
        self.watcher = watcher
        self.reader = reader
        self.spawnedAt = .now
    }

    /// The process group (equal to ``pid``: every task has its own session).
    public var processGroup: pid_t { pid }

    /// Waits until the process has ended and been reaped. Ignores Swift
    /// cancellation: stop the process to make it return.
    public func exitStatus() async -> ExitStatus {
        await withCheckedContinuation { continuation in
            let status: ExitStatus? = state.withLock { state in
                if state.status == nil { state.exitWaiters.append(continuation) }
                return state.status
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// The exit status once reaped, else nil.
    public var status: ExitStatus? { state.withLock { $0.status } }

    /// Sends `signal` to every process of the group. Returns the errno
    /// (`ESRCH` when the group is empty), or 0. Once the leader is reaped and
    /// the group was seen empty, nothing is sent (the ID may be reused).
    @discardableResult
    public func signalGroup(_ signal: Int32) -> Int32 {
        if state.withLock({ $0.groupGone }) { return ESRCH }
        switch SystemCall.call("kill", { kill(-pid, signal) }) {
        case .success: return 0
        case .failure(let error):
            if error.code == ESRCH { state.withLock { if $0.status != nil { $0.groupGone = true } } }
            return error.code
        }
    }

    /// True while any process (a zombie too) is left in the group.
    public var groupExists: Bool { signalGroup(0) != ESRCH }

    /// Stops the group: SIGTERM now, SIGKILL after `grace`. Only the first
    /// call acts; safe from any thread (a stop hook, a cancellation handler).
    ///
    /// With a cgroup, the SIGTERM goes to every process in it (those that
    /// left the group too: `setsid`, daemons) and the stop ends with
    /// `cgroup.kill` (SPEC §11).
    public func terminate(grace: Duration) {
        let first = state.withLock { state in
            guard state.killAt == nil else { return false }
            state.killAt = .now.advanced(by: grace)
            return true
        }
        guard first else { return }
        if let cgroup { cgroup.signalAll(SIGTERM) } else { signalGroup(SIGTERM) }
        // The SIGKILL goes to the group whatever the leader did: a grandchild
        // that ignores SIGTERM must not outlive its task (SPEC §5).
        watcher.schedule(after: grace) { [self] in
            cgroup?.kill()
            signalGroup(SIGKILL)
        }
    }

    /// How long past the `cgroup.kill` a task waits for its cgroup to empty:
    /// only a process stuck in the kernel (a dead NFS server) takes longer,
    /// and the job's end tries again (``JobCgroupEnd``).
    static let cgroupDrainLimit = Duration.seconds(5)

    /// After the exit: stops whatever is left (SIGTERM, SIGKILL after
    /// `grace`) and waits until nothing is.
    ///
    /// With a cgroup, "left" is every process in it, and the wait ends when
    /// `cgroup.events` says `populated 0` (inotify, on the exit thread), or
    /// ``cgroupDrainLimit`` past the kill. Without one, it is the process
    /// group, polled, and the wait ends at most one second past the SIGKILL
    /// (a zombie whose parent does not reap it stays a member).
    public func stopRemaining(grace: Duration) async {
        if let cgroup {
            guard cgroup.isPopulated else { return }
            terminate(grace: grace)
            let killAt = state.withLock { $0.killAt } ?? .now
            let limit = ContinuousClock.now.duration(to: killAt) + Self.cgroupDrainLimit
            _ = await watcher.waitUntilEmpty(cgroup, within: max(limit, .zero))
            return
        }
        guard groupExists else { return }
        terminate(grace: grace)
        let giveUp = (state.withLock { $0.killAt } ?? .now).advanced(by: .seconds(1))
        var pause = Duration.milliseconds(1)
        // A poll with backoff, only while a group has leftovers: the kernel has
        // no notification for "process group empty" short of cgroups.
        while groupExists, ContinuousClock.now < giveUp {
            await watcher.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    /// Waits until both output pipes reached end of file and every line was
    /// delivered; after `limit` the pipes are dropped (a descendant that left
    /// the group can hold them open forever).
    public func outputFinished(within limit: Duration) async {
        guard state.withLock({ $0.openStreams > 0 }) else { return }
        let reader = self.reader
        watcher.schedule(after: limit) { [self] in
            if state.withLock({ $0.openStreams > 0 }) { reader.abandon(self) }
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.openStreams > 0 { state.outputWaiters.append(continuation) }
                return state.openStreams == 0
            }
            if done { continuation.resume() }
        }
    }

    /// The last 4 KiB of stderr so far, as written: the record renders them
    /// as its `stderr_tail` (SPEC §6).
    public var stderrTail: [UInt8] { state.withLock { $0.tail.bytes } }

    // MARK: Event threads

    /// On the watcher thread: the process was reaped.
    func exited(_ status: ExitStatus) {
        SystemCall.close(pidfd)
        // Checked at once, while the group ID cannot have been reused yet.
        let empty = kill(-pid, 0) == -1 && errno == ESRCH
        let waiters = state.withLock { state in
            state.status = status
            if empty { state.groupGone = true }
            defer { state.exitWaiters.removeAll() }
            return state.exitWaiters
        }
        for waiter in waiters { waiter.resume(returning: status) }
    }

    /// On the output thread.
    func appendStderr(_ bytes: UnsafeRawBufferPointer) {
        state.withLock { $0.tail.append(bytes) }
    }

    /// On the output thread: one pipe ended.
    func streamEnded() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.openStreams -= 1
            guard state.openStreams == 0 else { return [] }
            defer { state.outputWaiters.removeAll() }
            return state.outputWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
