#if canImport(Glibc)
import Glibc
#endif

/// An `errno` value: the one error number type of every gatherd target.
///
/// Errors that say *what* failed (``SystemCallError``, the spool's and the
/// event sources' errors) carry one of these; its `description` is the one
/// rendering of `strerror` text (`No such file or directory`).
public struct Errno: Error, Sendable, Hashable, CustomStringConvertible {
    /// The raw value (`ENOENT`, …).
    public let rawValue: Int32

    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno` now.
    public static var current: Errno { Errno(errno) }

    /// `strerror` text; `error N` for a number the C library does not know.
    public var description: String {
        guard let text = strerror(rawValue) else { return "error \(rawValue)" }
        return String(cString: text)
    }

    public static func == (lhs: Errno, rhs: Int32) -> Bool { lhs.rawValue == rhs }
}

/// A failed system call: which call (and object), and its ``Errno``.
/// `description` reads `pipe2: Too many open files`.
public struct SystemCallError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was called, e.g. `epoll_ctl` or `open /proc/1/stat`.
    public let call: String
    /// Why it failed.
    public let errno: Errno

    public init(_ call: String, errno: Errno) {
        self.call = call
        self.errno = errno
    }

    /// The raw errno value.
    public var code: Int32 { errno.rawValue }

    public var description: String { "\(call): \(errno)" }
}
