import Glibc

/// Reads `/proc/PID/stat` fields the daemon records.
enum ProcStat {
    /// Field 22, `starttime`. The command (field 2) may hold spaces and
    /// parentheses, so fields are counted from the last `)`.
    static func startTime(of pid: pid_t) -> UInt64? {
        guard let text = read(pid) else { return nil }
        guard let close = text.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // After ")": " S ppid …"; field 3 is the state, so field 22 is the 20th after it.
        let fields = text[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count >= 20 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }

    /// Field 3, the state letter (`R`, `S`, `Z`, …); nil when the process is gone.
    static func state(of pid: pid_t) -> Character? {
        guard let text = read(pid), let close = text.lastIndex(of: UInt8(ascii: ")")),
              close + 2 < text.count else { return nil }
        return Character(UnicodeScalar(text[close + 2]))
    }

    private static func read(_ pid: pid_t) -> [UInt8]? {
        guard case .success(let fd) = systemCall("open", { open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC) }) else { return nil }
        defer { closeDescriptor(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { raw in
            systemCall("read") { Glibc.read(fd, raw.baseAddress, raw.count) }
        }
        guard case .success(let n) = count, n > 0 else { return nil }
        return Array(buffer[..<n])
    }
}
