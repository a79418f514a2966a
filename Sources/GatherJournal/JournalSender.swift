import GatherSystem
import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// Sends one entry with `sd_journal_sendv`, the native protocol that keeps
/// every field (a stream fd cannot carry fields). Used by ``JournalWriter``'s
/// thread; callable from anywhere, but it blocks while journald is slow.
public enum JournalSender {
    /// The socket journald listens on. libsystemd has no way to point elsewhere.
    public static let socketPath = "/run/systemd/journal/socket"

    /// Sends `entry`; returns the errno when libsystemd reports a failure, `nil` on success.
    ///
    /// Note: with no socket at all libsystemd reports success and the entry is
    /// lost, so callers check ``socketExists`` first; a stale socket file
    /// without a journald gives `ECONNREFUSED`.
    public static func send(_ entry: JournalEntry) -> Int32? {
        // One buffer holding every "NAME=value", and an iovec per field into it.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(entry.fields.reduce(0) { $0 + $1.name.utf8.count + 1 + $1.value.count })
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(entry.fields.count)
        for field in entry.fields {
            let start = buffer.count
            buffer.append(contentsOf: field.name.utf8)
            buffer.append(UInt8(ascii: "="))
            buffer.append(contentsOf: field.value)
            ranges.append(start..<buffer.count)
        }
        // A send interrupted by a signal sent nothing, so it is retried.
        let result = SystemCall.callReturningNegativeError {
            buffer.withUnsafeMutableBytes { raw in
                var vectors = ranges.map { range in
                    iovec(iov_base: raw.baseAddress.map { $0 + range.lowerBound }, iov_len: range.count)
                }
                return vectors.withUnsafeMutableBufferPointer { list in
                    sd_journal_sendv(list.baseAddress, Int32(list.count))
                }
            }
        }
        if case .failure(let errno) = result { return errno.rawValue }
        return nil
    }

    /// Whether journald's socket file exists (it may still be stale).
    public static var socketExists: Bool {
        var info = stat()
        guard case .success = SystemCall.call({ stat(socketPath, &info) }) else { return false }
        return (info.st_mode & S_IFMT) == S_IFSOCK
    }
}
