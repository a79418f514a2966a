import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// The one thin layer between gatherd and the kernel: every system call of
/// every target goes through ``retrying(_:failure:)``, the single loop that
/// retries `EINTR` and turns a failure into an ``Errno`` (never a trap: the
/// daemon keeps running). The conventions of the C library differ, so the
/// callers below say how a failure looks; the loop is the same.
public enum SystemCall {
    /// Runs `body` until it does not fail with `EINTR`.
    /// - Parameters:
    ///   - body: the call.
    ///   - failure: the errno when `body`'s result is a failure, else `nil`.
    @inline(__always)
    public static func retrying<T>(_ body: () -> T, failure: (T) -> Int32?) -> Result<T, Errno> {
        while true {
            let result = body()
            guard let code = failure(result) else { return .success(result) }
            if code == EINTR { continue }
            return .failure(Errno(code))
        }
    }

    /// A call that returns a negative value and sets `errno` on failure (most of them).
    @inline(__always)
    public static func call<T: FixedWidthInteger>(_ body: () -> T) -> Result<T, Errno> {
        retrying(body) { $0 < 0 ? errno : nil }
    }

    /// Like ``call(_:)``, with the call's name in the error (`SystemCallError`).
    @inline(__always)
    public static func call<T: FixedWidthInteger>(
        _ name: @autoclosure () -> String, _ body: () -> T
    ) -> Result<T, SystemCallError> {
        call(body).mapError { SystemCallError(name(), errno: $0) }
    }

    /// A call that returns the error number itself, 0 on success
    /// (`pthread_create`, `getpwuid_r`, `posix_spawn`).
    @inline(__always)
    public static func callReturningError(_ body: () -> Int32) -> Result<Void, Errno> {
        retrying(body) { $0 == 0 ? nil : $0 }.map { _ in () }
    }

    /// A call that returns `-errno` on failure and a non-negative value on
    /// success (libsystemd: `sd_journal_sendv`, `sd_notify`, …).
    @inline(__always)
    public static func callReturningNegativeError(_ body: () -> Int32) -> Result<Int32, Errno> {
        retrying(body) { $0 < 0 ? -$0 : nil }
    }

    /// `O_PATH`: open a directory only to name it in `*at` calls. Such a
    /// descriptor needs search (x) permission, not read, so a user can look
    /// up an entry in a directory it may enter but not list (`incoming/` at 1730).
    public static let pathOnly: Int32 = clinux_o_path()

    /// `close`, whose failure is ignored: the descriptor is gone either way
    /// (Linux frees it even on `EINTR`, so retrying could close a reused number).
    public static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// Writes all of `bytes` to `fd`.
    /// - Returns: the errno of a failed write, or `nil`.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Errno? {
        var offset = 0
        while offset < bytes.count {
            switch call({ Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }) {
            case .success(let n): offset += n
            case .failure(let e): return e
            }
        }
        return nil
    }

    /// Writes all of `bytes` to `fd`; the errno of a failed write, or `nil`.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Errno? {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    /// Reads `fd` to its end, or until `limit` bytes (a larger file returns `limit` bytes).
    public static func readAll(_ fd: Int32, limit: Int) -> Result<[UInt8], Errno> {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(65_536, max(limit, 1)))
        while bytes.count < limit {
            let wanted = min(chunk.count, limit - bytes.count)
            switch chunk.withUnsafeMutableBytes({ raw in call { Glibc.read(fd, raw.baseAddress, wanted) } }) {
            case .success(0): return .success(bytes)
            case .success(let n): bytes.append(contentsOf: chunk[..<n])
            case .failure(let e): return .failure(e)
            }
        }
        return .success(bytes)
    }

    /// `fstat` on a descriptor.
    public static func fstat(_ fd: Int32) -> Result<stat, Errno> {
        var st = stat()
        return call { Glibc.fstat(fd, &st) }.map { _ in st }
    }

    /// `fstatat(…, AT_SYMLINK_NOFOLLOW)` of `name` in the directory `dirfd`.
    public static func lstat(_ name: [UInt8], in dirfd: Int32) -> Result<stat, Errno> {
        var st = stat()
        return call { withName(name) { fstatat(dirfd, $0, &st, AT_SYMLINK_NOFOLLOW) } }.map { _ in st }
    }

    /// Calls `body` with `name` (raw bytes of a file name) as a NUL-terminated C string.
    public static func withName<R>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (name + [0]).withUnsafeBufferPointer { buffer in
            try buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { try body($0) }
        }
    }
}
