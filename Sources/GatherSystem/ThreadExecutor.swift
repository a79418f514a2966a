import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A serial executor with an OS thread of its own: an actor that does
/// blocking file I/O (fsync, a passwd look-up, a directory scan) runs on it,
/// so that I/O never holds one of the cooperative pool's few threads (two on
/// a two-core machine) while job tasks wait for them.
///
/// Use it as the actor's executor:
///
///     nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
///
/// It is a task executor too: a task started with it as its preference
/// (`group.addTask(executorPreference:)`) runs its nonisolated code on this
/// thread, so a loop that feeds the actor reaches it without a hop through
/// the cooperative pool.
///
/// Jobs run in the order they were enqueued. The thread sleeps in `poll` on
/// an eventfd while there is nothing to run and is woken only when work
/// arrives to an idle thread.
public final class ThreadExecutor: SerialExecutor, TaskExecutor, Sendable {
    private struct Queue: ~Copyable {
        var jobs: [UnownedJob] = []
        /// The thread found nothing to do and sleeps (or is about to): the next enqueue wakes it.
        var idle = false
    }

    private let queue = Mutex(Queue())
    private let wake: Int32

    /// Starts the thread.
    /// - Parameter name: the thread's name (`top -H`), cut to 15 bytes.
    /// - Throws: when no eventfd or thread can be had.
    public init(name: String) throws(SystemCallError) {
        switch EventWait.makeEventFD() {
        case .success(let fd): wake = fd
        case .failure(let errno): throw SystemCallError("eventfd", errno: errno)
        }
        // The executor lives as long as its actor, which for the daemon is the
        // process: the thread holds it and never ends.
        if case .failure(let errno) = OSThread.start(name: name, detached: true, { [self] in run() }) {
            SystemCall.close(wake)
            throw SystemCallError("pthread_create", errno: errno)
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let wakeUp = queue.withLock { queue in
            queue.jobs.append(unowned)
            defer { queue.idle = false }
            return queue.idle
        }
        if wakeUp { EventWait.signal(eventFD: wake) }
    }

    private func run() {
        let executor = asUnownedSerialExecutor()
        let taskExecutor = asUnownedTaskExecutor()
        var batch: [UnownedJob] = []
        while true {
            batch = queue.withLock { queue in
                let jobs = queue.jobs
                queue.jobs.removeAll(keepingCapacity: true)
                queue.idle = jobs.isEmpty
                return jobs
            }
            if batch.isEmpty {
                var fds = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
                _ = SystemCall.call { poll(&fds, 1, -1) }
                EventWait.drain(eventFD: wake)
                continue
            }
            for job in batch { job.runSynchronously(isolatedTo: executor, taskExecutor: taskExecutor) }
        }
    }
}
