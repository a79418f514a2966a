#if canImport(Glibc)
import Glibc
#endif

/// Figures of `/proc/meminfo`.
public enum SystemMemory {
    /// `Dirty:`: bytes waiting to be written back, machine-wide; nil when unreadable.
    public static func dirtyBytes() -> UInt64? {
        let fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { SystemCall.close(fd) }
        guard case .success(let bytes) = SystemCall.readAll(fd, limit: 16 << 10) else { return nil }
        // A line "Dirty:            1234 kB".
        let key = Array("\nDirty:".utf8)
        guard let start = bytes.indices.first(where: { bytes[$0...].starts(with: key) }) else { return nil }
        var value: UInt64 = 0
        var seen = false
        for byte in bytes[(start + key.count)...] {
            if byte == 0x20 { if seen { break } else { continue } }
            guard byte >= 0x30, byte <= 0x39 else { break }
            value = value * 10 + UInt64(byte - 0x30)
            seen = true
        }
        return seen ? value * 1024 : nil
    }
}
