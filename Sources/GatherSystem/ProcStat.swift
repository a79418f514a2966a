#if canImport(Glibc)
import Glibc
#endif

/// The one reader of `/proc/PID/stat`: the fields gatherd records (a
/// process's start time, to tell it from a later process with the same PID)
/// and checks (its state letter).
public enum ProcStat {
    /// Field 22, `starttime` (clock ticks after boot); `nil` if there is no such process.
    public static func startTime(of pid: pid_t) -> UInt64? {
        // After ")" come field 3 (the state) onwards, so field 22 is the 20th.
        guard let fields = fieldsAfterCommand(of: pid), fields.count >= 20 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }

    /// Field 3, the state letter (`R`, `S`, `Z`, …); `nil` when the process is gone.
    public static func state(of pid: pid_t) -> Character? {
        guard let first = fieldsAfterCommand(of: pid)?.first, let letter = first.first else { return nil }
        return Character(UnicodeScalar(letter))
    }

    /// The fields from 3 on. The command (field 2) may hold spaces and
    /// parentheses, so fields are counted from the last `)`.
    private static func fieldsAfterCommand(of pid: pid_t) -> [ArraySlice<UInt8>]? {
        guard case .success(let fd) = SystemCall.call({ open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC) }) else { return nil }
        defer { SystemCall.close(fd) }
        // One read: the kernel produces the whole line at once, well under 1 KiB.
        guard case .success(let text) = SystemCall.readAll(fd, limit: 1024), !text.isEmpty,
              let close = text.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        return text[(close + 1)...].split(separator: UInt8(ascii: " "))
    }
}
