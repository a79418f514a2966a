#if canImport(Glibc)
import Glibc
#endif

/// The one thin layer over the file-system calls the spool makes: every call
/// goes through ``sys(_:_:)``, which retries `EINTR` and turns a failure into
/// a ``SpoolError`` that names the call and the errno (no `!` on an OS result).
enum SystemCall {
    /// Runs `body` until it does not fail with `EINTR`; a negative result throws.
    /// - Parameters:
    ///   - what: the call and its object, for the error line (`"openat active/x"`).
    ///   - code: what the caller was doing, for ``SpoolError/code``.
    @discardableResult
    static func sys<R: BinaryInteger>(_ what: @autoclosure () -> String, code: SpoolError.Code = .io,
                                      _ body: () -> R) throws(SpoolError) -> R {
        while true {
            let result = body()
            if result >= 0 { return result }
            let err = errno
            if err == EINTR { continue }
            throw SpoolError(code, what(), errno: err)
        }
    }

    /// Like ``sys(_:code:_:)`` but returns the errno instead of throwing,
    /// for calls whose failure is an expected answer (`ENOENT`, `EEXIST`, `ELOOP`).
    static func attempt<R: BinaryInteger>(_ body: () -> R) -> Result<R, Errno> {
        while true {
            let result = body()
            if result >= 0 { return .success(result) }
            let err = errno
            if err == EINTR { continue }
            return .failure(Errno(err))
        }
    }

    /// `close` whose failure is ignored: the descriptor is gone either way
    /// (Linux frees it even on `EINTR`, so it must not be retried).
    static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// `fstat` on a descriptor.
    static func fstat(_ fd: Int32, _ what: @autoclosure () -> String) throws(SpoolError) -> stat {
        var st = stat()
        try sys("fstat \(what())") { Glibc.fstat(fd, &st) }
        return st
    }

    /// `fstatat(…, AT_SYMLINK_NOFOLLOW)`; `nil` when the entry does not exist.
    static func lstatAt(_ dirfd: Int32, _ name: [UInt8]) -> Result<stat, Errno> {
        var st = stat()
        let r = attempt { withName(name) { fstatat(dirfd, $0, &st, AT_SYMLINK_NOFOLLOW) } }
        return r.map { _ in st }
    }

    /// Calls `body` with `name` as a NUL-terminated C string.
    static func withName<R>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (name + [0]).withUnsafeBufferPointer { buf in
            buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { body($0) }
        }
    }

    /// Writes all of `bytes` to `fd`.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ what: @autoclosure () -> String) throws(SpoolError) {
        var offset = 0
        while offset < bytes.count {
            let r = bytes.withUnsafeBytes { raw in attempt { Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) } }
            switch r {
            case .success(let n): offset += n
            case .failure(let e): throw SpoolError(.io, "write \(what())", errno: e.rawValue)
            }
        }
    }
}

/// An errno value with its text.
public struct Errno: Error, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public var description: String { String(cString: strerror(rawValue)) }
}

/// An error of the spool: a ``Code`` saying what failed, the errno when a
/// system call failed, and context. `description` is the line a person reads
/// (`spool write error: write active/x/.result.json.tmp: No space left on device`).
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    /// What kind of thing failed.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// A spool directory failed the start-up safety checks (SPEC §3).
        public static let unsafeDirectory = Code(name: "unsafe spool directory")
        /// A record or state file could not be written; retry later (SPEC §3).
        public static let recordWrite = Code(name: "spool write error")
        /// Another daemon holds the spool (``SpoolDirectory/lockForDaemon()``).
        public static let inUse = Code(name: "spool in use")
        /// Any other system call failure.
        public static let io = Code(name: "spool error")
        /// A stored file (`state.json`, `result.json`) could not be understood.
        public static let corrupt = Code(name: "spool file unreadable")
        /// A fault injected by a test (``SpoolFaultPoint``).
        public static let injected = Code(name: "injected fault")
    }

    public let code: Code
    /// What was being done, e.g. `write active/x/result.json`.
    public let context: String
    /// The errno of the failed call, if one failed.
    public let errno: Errno?
    /// A rejection's record that could not be written: the caller keeps it and
    /// writes it later with ``SpoolDirectory/finish(_:)`` (recovery could not
    /// tell again why the file was rejected, e.g. for its name).
    public internal(set) var record: JobRecord?

    public init(_ code: Code, _ context: String, errno: Int32? = nil) {
        self.code = code
        self.context = context
        self.errno = errno.map(Errno.init)
    }

    /// Whether the failure is the kind a retry later may cure (no space, I/O, read-only).
    public var isRetryable: Bool { code == .recordWrite }

    public var description: String {
        var line = "\(code): \(context)"
        if let errno { line += ": \(errno)" }
        return line
    }

    /// The same error, re-labelled with `code` (a write during a record is a record write error).
    func relabelled(_ code: Code) -> SpoolError {
        var error = SpoolError(code, context, errno: errno?.rawValue)
        error.record = record
        return error
    }
}
