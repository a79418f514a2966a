import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// The pieces every event thread is made of: an epoll set, an eventfd that
/// wakes the thread when it has new work or must stop, and the monotonic
/// clock its timers run on.
public enum EventWait {
    /// An eventfd (close-on-exec, non-blocking).
    public static func makeEventFD() -> Result<Int32, Errno> {
        SystemCall.call { clinux_eventfd() }
    }

    /// Adds one to an eventfd; never blocks (a full counter already wakes).
    public static func signal(eventFD fd: Int32) {
        var one: UInt64 = 1
        _ = SystemCall.call { write(fd, &one, MemoryLayout<UInt64>.size) }
    }

    /// Reads an eventfd back to zero.
    public static func drain(eventFD fd: Int32) {
        var count: UInt64 = 0
        _ = SystemCall.call { read(fd, &count, MemoryLayout<UInt64>.size) }
    }

    /// An epoll set with a fresh eventfd registered as token 0: the wake-up
    /// of the thread that waits on the set.
    public static func makeEpollWithWake() -> Result<(epoll: Int32, wake: Int32), SystemCallError> {
        let epoll: Int32
        switch SystemCall.call("epoll_create1", { clinux_epoll_create() }) {
        case .success(let fd): epoll = fd
        case .failure(let error): return .failure(error)
        }
        let wake: Int32
        switch makeEventFD() {
        case .success(let fd): wake = fd
        case .failure(let errno):
            SystemCall.close(epoll)
            return .failure(SystemCallError("eventfd", errno: errno))
        }
        if case .failure(let error) = SystemCall.call("epoll_ctl", { clinux_epoll_add(epoll, wake, 0) }) {
            SystemCall.close(epoll)
            SystemCall.close(wake)
            return .failure(error)
        }
        return .success((epoll, wake))
    }

    /// The monotonic clock in nanoseconds, for the event threads' timers.
    @inline(__always)
    public static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

extension Duration {
    /// Whole nanoseconds, clamped at zero (for the event threads' timers).
    public var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}
