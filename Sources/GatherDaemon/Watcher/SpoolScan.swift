import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// Full listings of `incoming/` and `cancel/`: what the daemon reads at start,
/// on SIGHUP and after a ``SpoolEvent/rescan`` (SPEC §3), with the same name
/// rules as ``SpoolWatcher``.
public enum SpoolScan {
    /// The claimable names in `incoming/` (no dotfiles, only `*.json`), of any
    /// file type — a non-regular entry is claimed and rejected like any other.
    /// In arrival order as far as the filesystem tells: by status-change time
    /// (which `rename` and `link` update, so a renamed-in file counts from its
    /// drop, not its writing), then by name. Entries that vanish while the
    /// directory is read are left out.
    /// - Parameter directory: the spool's `incoming/` directory.
    public static func incoming(_ directory: String) throws(EventSourceError) -> [SpoolEntryName] {
        try opened(directory) { fd throws(EventSourceError) in try incoming(fd, label: directory) }
    }

    /// ``incoming(_:)`` of the directory open as `fd` (the daemon's spool
    /// descriptor: no path is resolved again); `label` names it in errors.
    public static func incoming(_ fd: Int32, label: String) throws(EventSourceError) -> [SpoolEntryName] {
        var found: [(name: SpoolEntryName, changed: timespec)] = []
        try forEachName(in: fd, label: label) { dirfd, name in
            guard name.isClaimableJobFile else { return }
            var info = stat()
            let result = name.withCString { path in
                SystemCall.call { fstatat(dirfd, path, &info, AT_SYMLINK_NOFOLLOW) }
            }
            switch result {
            case .success:
                found.append((name, info.st_ctim))
            case .failure(let errno) where errno.rawValue == ENOENT:
                break  // claimed or removed meanwhile
            case .failure:
                // Cannot tell when it came: list it last rather than lose it.
                found.append((name, timespec(tv_sec: Int.max, tv_nsec: 0)))
            }
        }
        found.sort { lhs, rhs in
            if lhs.changed.tv_sec != rhs.changed.tv_sec { return lhs.changed.tv_sec < rhs.changed.tv_sec }
            if lhs.changed.tv_nsec != rhs.changed.tv_nsec { return lhs.changed.tv_nsec < rhs.changed.tv_nsec }
            return lhs.name < rhs.name
        }
        return found.map(\.name)
    }

    /// The names in `cancel/` (no dotfiles), sorted by name. Whether each is a
    /// request to honour (file type, owner) is the consumer's check.
    /// - Parameter directory: the spool's `cancel/` directory.
    public static func cancelRequests(_ directory: String) throws(EventSourceError) -> [SpoolEntryName] {
        try opened(directory) { fd throws(EventSourceError) in try cancelRequests(fd, label: directory) }
    }

    /// ``cancelRequests(_:)`` of the directory open as `fd`; `label` names it in errors.
    public static func cancelRequests(_ fd: Int32, label: String) throws(EventSourceError) -> [SpoolEntryName] {
        var names: [SpoolEntryName] = []
        try forEachName(in: fd, label: label) { _, name in
            if name.isCancelRequest { names.append(name) }
        }
        return names.sorted()
    }

    private static func scanError(_ label: String, _ errno: Errno) -> EventSourceError {
        EventSourceError(.scan, source: "spool scan", subject: label, errno: errno)
    }

    /// Opens `directory` (never through a final symlink) for `body`.
    private static func opened<R>(
        _ directory: String, _ body: (Int32) throws(EventSourceError) -> R
    ) throws(EventSourceError) -> R {
        let fd: Int32
        switch SystemCall.call({ open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }) {
        case .success(let value): fd = value
        case .failure(let errno): throw scanError(directory, errno)
        }
        defer { SystemCall.close(fd) }
        return try body(fd)
    }

    /// Calls `body` with the listing's descriptor and each name but `.` and `..`.
    private static func forEachName(
        in fd: Int32, label: String, _ body: (Int32, SpoolEntryName) -> Void
    ) throws(EventSourceError) {
        if let errno = DirectoryListing.forEachName(in: fd, { dirfd, name in body(dirfd, SpoolEntryName(bytes: name)) }) {
            throw scanError(label, errno)
        }
    }
}
