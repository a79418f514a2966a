import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// Whether journald's socket file is there, and whether it went away since the
/// last look: an inotify watch on its directory, read by the journal writer's
/// thread before every send. Used by that thread only.
///
/// With no socket file `sd_journal_sendv` reports success and drops the entry
/// (libsystemd ignores `ENOENT`), so the writer must know before it sends, and
/// must learn that the file went away so it can replay what journald may never
/// have read (``RecentEntries``).
///
/// Why the writer reads its own watch rather than the spool watcher's thread
/// calling it back: the answer matters only just before a send, on the writer's
/// thread, and a nonblocking `read` that finds nothing costs one system call —
/// no callback, no lock, no ordering between two threads to get right. The
/// writer also lives longer than the spool watcher (the first and the last
/// entries of a run are logged before it starts and after it stops) and in
/// processes that have none. While the writer is idle it looks at least once a
/// second as long as it holds entries it might have to replay.
///
/// Where the directory does not exist (no journald on this machine yet), the
/// socket is looked up at most once a second, as before the watch, and the
/// watch is set up as soon as the directory appears.
final class JournalSocketWatch {
    /// What ``check(now:)`` found.
    struct Status {
        /// The socket file is there: a send reaches a socket or fails loudly.
        var present: Bool
        /// The socket file went away (or may have: a queue overflow, the
        /// directory removed) since the last check, so entries sent before
        /// may never have been read.
        var lost: Bool
    }

    private let directory: String
    private let name: [UInt8]
    private let path: String
    private var inotify: Int32 = -1
    private var watch: Int32 = -1
    private var present = false
    /// When the socket was last looked up without a watch (monotonic ns).
    private var statAt: UInt64?

    private static let mask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
        | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
    private static let statInterval: UInt64 = 1_000_000_000

    /// Sets up the watch (when the directory exists), then looks the socket up.
    init(path: String = JournalSender.socketPath) {
        self.path = path
        let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) ?? path.utf8.startIndex
        directory = String(path[..<slash])
        name = Array(path.utf8[path.utf8.index(after: slash)...])
        if case .success(let fd) = SystemCall.call({ inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) }) {
            inotify = fd
        }
        addWatch()
        // After the watch: a change from here on is in its queue.
        present = Self.isSocket(path)
        statAt = EventWait.monotonicNanoseconds()
    }

    deinit { SystemCall.close(inotify) }

    /// Whether the socket is there now and whether it went away since the last call.
    func check(now: UInt64) -> Status {
        var lost = false
        if watch >= 0 { lost = readEvents() }
        // Without a watch the socket is looked up once a second (a socket
        // that went away and came back between two looks goes unnoticed: the
        // reason for the watch). With one, it is also looked up once a second
        // while it is missing: a directory removed while a socket bound in it
        // stays open reports nothing until that socket is closed.
        if watch < 0 || !present, statAt.map({ now &- $0 >= Self.statInterval }) ?? true {
            statAt = now
            addWatch()
            let wasPresent = present
            present = Self.isSocket(path)
            if wasPresent && !present { lost = true }
        }
        return Status(present: present, lost: lost)
    }

    /// Reads the watch's events; true when the socket went away (or may have).
    private func readEvents() -> Bool {
        var lost = false
        var changed = false
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 8) { buffer in
            while case .success(let count) = SystemCall.call({ read(inotify, buffer.baseAddress, buffer.count) }),
                  count > 0 {
                for record in InotifyRecord.decode(UnsafeRawBufferPointer(rebasing: buffer[..<count])) {
                    if record.mask & UInt32(IN_Q_OVERFLOW) != 0 {
                        // Whatever happened meanwhile is unknown: assume the worst.
                        lost = true
                        changed = true
                    } else if record.watch == watch {
                        if record.mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT) != 0 {
                            lost = true
                            changed = true
                            dropWatch()
                        } else if record.name == name {
                            if record.mask & UInt32(IN_DELETE | IN_MOVED_FROM) != 0 { lost = true }
                            changed = true
                        }
                    }
                }
            }
        }
        if changed { present = Self.isSocket(path) }
        return lost
    }

    /// Sets up the watch, or renews it: the directory at the path may be a
    /// new one, and a watch on a removed directory is dropped.
    private func addWatch() {
        guard inotify >= 0 else { return }
        switch SystemCall.call({ inotify_add_watch(inotify, directory, Self.mask) }) {
        case .success(let wd):
            if watch >= 0 && wd != watch { dropWatch() }
            watch = wd
        case .failure:
            if watch >= 0 { dropWatch() }
        }
    }

    private func dropWatch() {
        // After IN_IGNORED the kernel has dropped it already; EINVAL then is harmless.
        // Its later events (IN_IGNORED) name a watch no longer ours and are skipped.
        _ = inotify_rm_watch(inotify, watch)
        watch = -1
    }

    private static func isSocket(_ path: String) -> Bool {
        var info = stat()
        guard case .success = SystemCall.call({ stat(path, &info) }) else { return false }
        return (info.st_mode & S_IFMT) == S_IFSOCK
    }
}
