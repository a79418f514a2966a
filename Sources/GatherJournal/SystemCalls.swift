#if canImport(Glibc)
import Glibc
#endif

/// The few system calls the journal layer makes itself, each retrying `EINTR`
/// and reporting the errno instead of trapping: the daemon keeps running.
enum SystemErrno {
    /// `strerror` text for an errno, e.g. `Connection refused`.
    static func text(_ code: Int32) -> String {
        guard let cString = strerror(code) else { return "errno \(code)" }
        return String(cString: cString)
    }

    /// Writes all of `bytes` to `fd`; returns the errno of a failed write, or `nil`.
    @discardableResult
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return nil
    }

    /// Whether `path` exists as a socket (`stat` without following errors into traps).
    static func isSocket(_ path: String) -> Bool {
        var info = stat()
        while true {
            if stat(path, &info) == 0 { return (info.st_mode & S_IFMT) == S_IFSOCK }
            if errno != EINTR { return false }
        }
    }
}
