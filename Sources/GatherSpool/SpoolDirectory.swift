import CLinux
import GatherSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A step of the claim or the finish where a test may stop the spool, as a
/// crash would (production passes no injector).
public enum SpoolFaultPoint: String, Sendable, CaseIterable {
    case claimDirectoryMade, claimFileMoved, claimStateWritten, claimFileOwned
    case finishTemporaryWritten, finishResultInPlace, finishDirectoryMoved
}

/// The spool directory of SPEC §3, held open as directory descriptors so that
/// every later call is relative to them (`*at`) and no path is re-resolved.
///
/// Calls are synchronous and not meant to run concurrently on one spool: the
/// daemon's supervisor actor owns the instance.
public final class SpoolDirectory: Sendable {
    /// The subdirectories of the spool.
    public enum Area: String, Sendable, CaseIterable {
        case incoming, active, done, failed, rejected, cancel
        /// Mode at creation: users drop files in `incoming/` and `cancel/` only once an admin opens them.
        var creationMode: mode_t { self == .incoming || self == .cancel ? 0o700 : 0o755 }
        var isUserWritable: Bool { self == .incoming || self == .cancel }
    }

    public let path: String
    /// The daemon's effective uid and gid.
    public let daemonUID: UInt32
    public let daemonGID: UInt32
    /// This boot's ID (32 hex digits), recorded in `state.json`.
    public let bootID: String
    let rootFD: Int32
    private let areaFDs: [Area: Int32]
    private let faultInjector: (@Sendable (SpoolFaultPoint) -> Bool)?
    /// Entries of `incoming/` rejected where they lie (they could not be moved),
    /// by device and inode: a rescan must not record them again.
    let leftInPlace = Mutex(Set<EntryKey>())
    /// What the next ``commit()`` makes durable.
    let pendingSync = Mutex(PendingSync())

    /// An entry's identity on its file system.
    struct EntryKey: Hashable, Sendable {
        let device: UInt64
        let inode: UInt64
        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
        }
    }

    /// Opens the spool at `path`, creating it and missing subdirectories, and
    /// runs the start-up checks of SPEC §3: no directory is a symlink, none is
    /// writable by others without the sticky bit, and all but `incoming/` and
    /// `cancel/` belong to the daemon's user and are writable by nobody else.
    /// - Parameters:
    ///   - path: the spool (`--spool`).
    ///   - faultInjector: tests only: return `true` to stop at that step with an ``SpoolError/Code/injected`` error.
    /// - Throws: ``SpoolError`` with code ``SpoolError/Code/unsafeDirectory`` (exit 1 with its line) or ``SpoolError/Code/io``.
    public init(path: String, faultInjector: (@Sendable (SpoolFaultPoint) -> Bool)? = nil) throws(SpoolError) {
        self.path = path
        self.daemonUID = geteuid()
        self.daemonGID = getegid()
        self.faultInjector = faultInjector
        var id = [CChar](repeating: 0, count: 33)
        self.bootID = clinux_boot_id(&id) == 0 ? String(decoding: id.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        var createdRoot = true
        if case .failure(let e) = SystemCall.call({ mkdir(path, 0o755) }) {
            guard e.rawValue == EEXIST else { throw SpoolError(.io, "mkdir \(path)", errno: e.rawValue) }
            createdRoot = false
        }
        let root = try Self.openChecked(AT_FDCWD, path, label: path, userWritable: false, uid: geteuid())
        // A directory made here gets its mode whatever the umask (SPEC §6: the
        // state directories are 0755, so submitters can reach their records).
        if createdRoot { _ = SystemCall.call { fchmod(root, 0o755) } }
        var fds: [Area: Int32] = [:]
        do throws(SpoolError) {
            for area in Area.allCases {
                var created = true
                if case .failure(let e) = SystemCall.call({ mkdirat(root, area.rawValue, area.creationMode) }) {
                    guard e.rawValue == EEXIST else { throw SpoolError(.io, "mkdir \(path)/\(area.rawValue)", errno: e.rawValue) }
                    created = false
                }
                let fd = try Self.openChecked(root, area.rawValue, label: "\(path)/\(area.rawValue)",
                                              userWritable: area.isUserWritable, uid: geteuid())
                fds[area] = fd
                if created { _ = SystemCall.call { fchmod(fd, area.creationMode) } }
            }
        } catch {
            fds.values.forEach(SystemCall.close)
            SystemCall.close(root)
            throw error
        }
        self.rootFD = root
        self.areaFDs = fds
    }

    deinit {
        pendingSync.withLock { pending in (pending.files.descriptors + pending.directories.descriptors).forEach(SystemCall.close) }
        areaFDs.values.forEach(SystemCall.close)
        SystemCall.close(rootFD)
    }

    /// Whether the spool's `paused` file exists, a regular file (SPEC §3:
    /// only the daemon's user can create it there): no file is claimed while it does.
    public var pauseRequested: Bool {
        guard case .success(let st) = SystemCall.lstat(Array(Self.pauseFile.utf8), in: rootFD) else { return false }
        return st.st_mode & S_IFMT == S_IFREG
    }

    /// The name of the pause file in the spool directory.
    public static let pauseFile = "paused"

    /// Takes the spool for this process: an exclusive `flock` on the spool
    /// directory, held until the process ends. A second daemon on the same
    /// spool would take the first one's running jobs for crashed ones and kill
    /// their tasks; it must refuse to start instead.
    /// - Throws: ``SpoolError`` with code ``SpoolError/Code/inUse`` when another process holds it.
    ///
    /// A lock still held is tried again for up to `patience`: a gatherd killed
    /// with SIGKILL in the middle of a spawn leaves a child between `clone`
    /// and `exec` that holds a copy of every descriptor, the lock's too, for
    /// a moment (the fault suite saw up to half a second). A second daemon
    /// on the spool is refused once that has passed.
    public func lockForDaemon(patience: Duration = .seconds(2)) throws(SpoolError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: patience)
        while true {
            switch SystemCall.call({ flock(rootFD, LOCK_EX | LOCK_NB) }) {
            case .success: return
            case .failure(let e) where e.rawValue == EWOULDBLOCK:
                guard clock.now < deadline else { throw SpoolError(.inUse, "\(path) is in use by another gatherd") }
                usleep(20_000)
            case .failure(let e):
                throw SpoolError(.io, "flock \(path)", errno: e.rawValue)
            }
        }
    }

    /// Opens a spool directory without following a symlink and checks its owner and mode.
    private static func openChecked(_ dirfd: Int32, _ name: String, label: String, userWritable: Bool, uid: UInt32) throws(SpoolError) -> Int32 {
        let fd: Int32
        switch SystemCall.call({ openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }) {
        case .success(let f): fd = f
        case .failure(let e) where e.rawValue == ELOOP || e.rawValue == ENOTDIR:
            throw SpoolError(.unsafeDirectory, "\(label) is a symbolic link or not a directory")
        case .failure(let e): throw SpoolError(.io, "open \(label)", errno: e.rawValue)
        }
        do throws(SpoolError) {
            let st = try SystemCall.fstat(fd, label)
            let mode = st.st_mode
            if mode & 0o002 != 0, mode & S_ISVTX == 0 {
                throw SpoolError(.unsafeDirectory, "\(label) is writable by others without the sticky bit")
            }
            if !userWritable, st.st_uid != uid || mode & 0o022 != 0 {
                throw SpoolError(.unsafeDirectory, "\(label) is writable by someone other than the daemon's user (uid \(uid))")
            }
        } catch {
            SystemCall.close(fd)
            throw error
        }
        return fd
    }

    /// The descriptor of an area.
    func fd(_ area: Area) -> Int32 { areaFDs[area] ?? -1 }

    /// Stops here with an injected error when a test asks to.
    func checkpoint(_ point: SpoolFaultPoint) throws(SpoolError) {
        if let faultInjector, faultInjector(point) { throw SpoolError(.injected, point.rawValue) }
    }

    /// The names in an area, in no particular order (`.` and `..` left out).
    public func names(in area: Area) throws(SpoolError) -> [[UInt8]] {
        switch DirectoryListing.names(in: fd(area)) {
        case .success(let names): return names
        case .failure(let errno): throw SpoolError(.io, "list \(area.rawValue)", errno: errno.rawValue)
        }
    }

    /// Whether `id` is taken in `active/`, `done/`, `failed/` or `rejected/`.
    func isUsed(_ id: String) -> Bool {
        [Area.active, .done, .failed, .rejected].contains { area in
            if case .failure(let e) = SystemCall.lstat(Array(id.utf8), in: fd(area)), e.rawValue == ENOENT { return false }
            return true
        }
    }

    /// The first ID free in every job area: `base`, else `base-2`, `base-3`, …
    /// with `base` shortened so the ID stays within 100 bytes (SPEC §3).
    func freeID(_ base: String) -> String {
        if !isUsed(base) { return base }
        var n = 2
        while true {
            let suffix = "-\(n)"
            let id = String(decoding: Array(base.utf8).prefix(100 - suffix.utf8.count), as: UTF8.self) + suffix
            if !isUsed(id) { return id }
            n += 1
        }
    }

    /// Writes `bytes` to `name` in `dirfd` atomically: a temporary `.NAME.tmp`
    /// created `O_EXCL|O_NOFOLLOW`, owned by the daemon with group `gid`, mode
    /// 0640, then renamed over `name`. A failure is a record write error.
    /// Not synced here: the file and the directory are kept for the next
    /// ``commit()``, which the daemon's writes share (docs/state-json.md, "Durability").
    func writeAtomically(
        _ dirfd: Int32, _ name: String, _ bytes: [UInt8], gid: UInt32, label: String
    ) throws(SpoolError) {
        try writeTemporary(dirfd, name, bytes, gid: gid, label: label)
        try renameTemporary(dirfd, name, label: label)
    }

    /// The first half of ``writeAtomically(_:_:_:gid:label:)``: `.NAME.tmp`
    /// written (and kept for the next commit), not yet renamed.
    func writeTemporary(_ dirfd: Int32, _ name: String, _ bytes: [UInt8], gid: UInt32, label: String) throws(SpoolError) {
        let temp = ".\(name).tmp"
        _ = SystemCall.call { unlinkat(dirfd, temp, 0) }  // a leftover of a crash
        do throws(SpoolError) {
            let fd = try SystemCall.sys("create \(label)/\(temp)", code: .recordWrite) {
                openat(dirfd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o640)
            }
            defer { SystemCall.close(fd) }
            try setOwner(fd, gid: gid, mode: 0o640, label: "\(label)/\(temp)")
            do { try SystemCall.writeAll(fd, bytes, "\(label)/\(temp)") } catch { throw error.relabelled(.recordWrite) }
            pendSync(file: fd, label: "\(label)/\(name)")
        } catch {
            _ = SystemCall.call { unlinkat(dirfd, temp, 0) }
            throw error
        }
        pendSync(directory: dirfd, label: label)
    }

    /// The second half: `.NAME.tmp` renamed over `NAME`.
    func renameTemporary(_ dirfd: Int32, _ name: String, label: String) throws(SpoolError) {
        let temp = ".\(name).tmp"
        do throws(SpoolError) {
            try SystemCall.sys("rename \(label)/\(temp)", code: .recordWrite) { renameat(dirfd, temp, dirfd, name) }
        } catch {
            _ = SystemCall.call { unlinkat(dirfd, temp, 0) }
            throw error
        }
        pendSync(directory: dirfd, label: label)
    }

    /// `fchown` to the daemon's user and `gid`, then `fchmod`. A daemon not
    /// running as root may only give its own files its own groups: `EPERM` then
    /// leaves the group as it is.
    func setOwner(_ fd: Int32, gid: UInt32, mode: mode_t, label: String) throws(SpoolError) {
        if case .failure(let e) = SystemCall.call({ fchown(fd, daemonUID, gid) }), !(e.rawValue == EPERM && daemonUID != 0) {
            throw SpoolError(.recordWrite, "fchown \(label)", errno: e.rawValue)
        }
        try SystemCall.sys("fchmod \(label)", code: .recordWrite) { fchmod(fd, mode) }
    }
}
