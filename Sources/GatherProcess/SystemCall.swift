import CLinux
import Glibc

/// A failed system call: which call, and the errno it returned.
public struct SystemCallError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The errno value.
    public let code: Int32
    /// The call that failed (`pipe2`, `epoll_ctl`, …).
    public let call: String

    public init(_ call: String, code: Int32) {
        self.call = call
        self.code = code
    }

    public var description: String { "\(call): \(SystemCallError.text(code))" }

    /// `strerror` text of an errno (`No such file or directory`).
    public static func text(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

/// Runs a system call that returns -1 and sets errno on failure, retrying
/// `EINTR`; every system call of this library goes through here (or through
/// the C shims, which do the same).
@inline(__always)
func systemCall<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ call: () -> T) -> Result<T, SystemCallError> {
    while true {
        let value = call()
        if value != -1 { return .success(value) }
        let code = errno
        if code == EINTR { continue }
        return .failure(SystemCallError(name(), code: code))
    }
}

/// Closes a descriptor; EINTR is not retried on Linux (the fd is gone either way).
@inline(__always)
func closeDescriptor(_ fd: Int32) {
    if fd >= 0 { _ = Glibc.close(fd) }
}

/// The monotonic clock in nanoseconds, for timers on the event threads.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

extension Duration {
    /// Whole nanoseconds, clamped at zero.
    var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}

/// Starts a detached OS thread running `body`: each event source (pidfds,
/// pipes) gets one thread blocked in `epoll_wait`, not a Swift task.
func startEventThread(_ body: @escaping @Sendable () -> Void) {
    final class Box: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { argument in
        guard let argument else { return nil }
        Unmanaged<Box>.fromOpaque(argument).takeRetainedValue().body()
        return nil
    }, box)
    if result != 0 {
        // Without its thread the launcher cannot watch anything; this only
        // happens when the process is out of threads or memory.
        Unmanaged<Box>.fromOpaque(box).release()
        preconditionFailure("gatherd: cannot start an event thread: \(SystemCallError.text(result))")
    }
    pthread_detach(thread)
}

/// An epoll set with an eventfd registered as token 0, the wake-up both
/// event threads (exits, output) use to notice new work or a stop.
func makeEpollWithWake() throws(SystemCallError) -> (epoll: Int32, wake: Int32) {
    let epoll = try systemCall("epoll_create1") { clinux_epoll_create() }.get()
    let wake: Int32
    switch systemCall("eventfd", { clinux_eventfd() }) {
    case .success(let fd): wake = fd
    case .failure(let error): closeDescriptor(epoll); throw error
    }
    if case .failure(let error) = systemCall("epoll_ctl", { clinux_epoll_add(epoll, wake, 0) }) {
        closeDescriptor(epoll)
        closeDescriptor(wake)
        throw error
    }
    return (epoll, wake)
}
