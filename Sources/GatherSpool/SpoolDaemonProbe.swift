import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// Whether a gatherd serves a spool: the daemon holds an exclusive `flock`
/// on the spool directory for as long as it runs
/// (``SpoolDirectory/lockForDaemon(patience:)``), so the question has an
/// exact answer (SPEC §10).
public enum DaemonPresence: Sendable, Equatable {
    /// A process holds the daemon's lock; its PID as `/proc/locks` shows it
    /// in the caller's PID namespace (`nil` when not shown).
    case serving(pid: Int32?)
    /// No process holds it: no gatherd runs on this spool.
    case absent

    public var isServing: Bool { self != .absent }
}

extension SpoolReader {
    /// Looks whether a gatherd holds the spool, without ever taking the lock
    /// in the normal case: `/proc/locks` lists every `flock` with the device
    /// and inode of its file, so reading it cannot make a starting daemon
    /// fail. Only where `/proc/locks` cannot answer exactly (it cannot be
    /// read, or an exclusive `flock` sits on an inode of that number on
    /// another device number, as a file system that reports one `st_dev` to
    /// `stat` and another to the lock table might) is the lock itself tried,
    /// shared and non-blocking, and let go at once; a daemon that starts at
    /// that moment retries its lock for two seconds, so it still starts.
    /// (On ext4 and on overlayfs, as a `--volatile=overlay` container has
    /// it, `stat` and the lock table agree on both: checked by hand.)
    public func daemonPresence() -> DaemonPresence {
        guard case .success(let st) = SystemCall.fstat(rootFD) else { return tryLock() }
        let device = UInt64(st.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        guard let table = Self.readLockTable() else { return tryLock() }
        var ambiguous = false
        for lock in Self.exclusiveFlocks(in: table) where lock.inode == UInt64(st.st_ino) {
            if lock.major == major && lock.minor == minor { return .serving(pid: lock.pid) }
            ambiguous = true
        }
        return ambiguous ? tryLock() : .absent
    }

    /// An exclusive `flock` as a line of `/proc/locks` shows it:
    /// `1: FLOCK  ADVISORY  WRITE 13285 fe:00:16220554 0 EOF`.
    struct LockLine: Equatable {
        let pid: Int32?
        let major: UInt64
        let minor: UInt64
        let inode: UInt64
    }

    /// The granted (not waiting, `->`) exclusive `flock`s of a lock table.
    static func exclusiveFlocks(in table: String) -> [LockLine] {
        table.split(separator: "\n").compactMap { line -> LockLine? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "WRITE" else { return nil }
            let place = fields[5].split(separator: ":")
            guard place.count == 3, let major = UInt64(place[0], radix: 16), let minor = UInt64(place[1], radix: 16),
                  let inode = UInt64(place[2]) else { return nil }
            // A lock whose holder is not in this PID namespace shows -1 or 0.
            let pid = Int32(fields[4]).flatMap { $0 > 0 ? $0 : nil }
            return LockLine(pid: pid, major: major, minor: minor, inode: inode)
        }
    }

    /// `/proc/locks`, or `nil` when it cannot be read (no `/proc`).
    private static func readLockTable() -> String? {
        guard case .success(let fd) = SystemCall.call({ open("/proc/locks", O_RDONLY | O_CLOEXEC) }) else { return nil }
        defer { SystemCall.close(fd) }
        guard case .success(let bytes) = SystemCall.readAll(fd, limit: 64 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The fallback: a shared, non-blocking `flock`, let go at once.
    private func tryLock() -> DaemonPresence {
        // flock needs a descriptor opened for reading (not O_PATH).
        guard case .success(let fd) = SystemCall.call({ openat(rootFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }) else {
            return .serving(pid: nil)  // cannot tell: do not claim the daemon is gone
        }
        defer { SystemCall.close(fd) }
        switch SystemCall.call({ flock(fd, LOCK_SH | LOCK_NB) }) {
        case .success:
            _ = flock(fd, LOCK_UN)
            return .absent
        case .failure:
            return .serving(pid: nil)
        }
    }
}
