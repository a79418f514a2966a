import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// The thin layer between the event sources and the OS: every system call goes
/// through `call`, which retries `EINTR` and returns the errno, and threads are
/// plain pthreads (no Foundation) that run one blocking loop each.
enum EventSourceOS {
    /// Runs a system call that returns -1 and sets `errno` on failure, retrying
    /// `EINTR`. Returns the result, or the errno as the failure.
    static func call<T: FixedWidthInteger>(_ body: () -> T) -> Result<T, SystemErrno> {
        while true {
            let result = body()
            if result != -1 { return .success(result) }
            let code = errno
            if code != EINTR { return .failure(SystemErrno(code)) }
        }
    }

    /// Starts a pthread running `body`; the caller joins or detaches it. `name` (cut to 15 bytes) shows in `top -H`.
    static func startThread(
        name: String, _ body: @escaping @Sendable () -> Void
    ) -> Result<pthread_t, SystemErrno> {
        let box = Unmanaged.passRetained(ThreadBody(name: name, body: body))
        var thread = pthread_t()
        let code = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let box = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
            _ = clinux_name_this_thread(box.name)
            box.body()
            return nil
        }, box.toOpaque())
        if code != 0 {
            box.release()
            return .failure(SystemErrno(code))
        }
        return .success(thread)
    }

    /// Makes an eventfd (close-on-exec, non-blocking) used to wake a thread
    /// blocked in `poll` when it must stop.
    static func makeStopEvent() -> Result<Int32, SystemErrno> {
        call { clinux_stop_event() }
    }

    /// Adds one to an eventfd made by `makeStopEvent`; never blocks.
    static func signal(stopEvent fd: Int32) {
        var one: UInt64 = 1
        _ = call { write(fd, &one, MemoryLayout<UInt64>.size) }
    }

    /// Closes a descriptor once; `EINTR` is not retried (on Linux the
    /// descriptor is already gone and retrying could close a reused number).
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}

/// An errno value from a failed system call.
public struct SystemErrno: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw `errno` value (e.g. `ENOENT`).
    public let code: Int32

    public init(_ code: Int32) { self.code = code }

    /// `strerror` text, e.g. "No such file or directory".
    public var description: String { String(cString: strerror(code)) }
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
