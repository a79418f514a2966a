import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

extension SpoolDirectory {
    /// Deletes job directories in `done/`, `failed/` and `rejected/` whose last
    /// change (the directory's mtime: the record's rename into it) is older than
    /// `age` (`--retain`; the daemon skips the call for `0`). Nothing inside is
    /// ever followed: every removal is `unlinkat` relative to an open directory
    /// opened with `O_NOFOLLOW`.
    /// A tree that cannot be removed (deeper than ``maxTreeDepth``, an I/O
    /// error) is left in place; the other expired directories are still removed.
    /// - Returns: the IDs removed, as `area/ID`.
    public func removeExpired(olderThan age: Duration, now: Timestamp = .now()) throws(SpoolError) -> [String] {
        let cutoff = now.millisecondsSinceEpoch - age.gatherMilliseconds
        var removed: [String] = []
        for area in [Area.done, .failed, .rejected] {
            for name in try names(in: area) {
                guard case .success(let st) = SystemCall.lstat(name, in: fd(area)) else { continue }
                let mtime = Int64(st.st_mtim.tv_sec) * 1000 + Int64(st.st_mtim.tv_nsec) / 1_000_000
                guard mtime < cutoff else { continue }
                // A user can drop a tree too deep to remove: it must not keep the rest.
                do { try Self.removeTree(fd(area), name, depth: 0) } catch { continue }
                removed.append("\(area.rawValue)/\(String(decoding: name, as: UTF8.self))")
            }
        }
        return removed
    }

    /// Deepest directory tree removed (one descriptor per level is open
    /// meanwhile); deeper ones are left in place.
    static let maxTreeDepth = 1024

    /// Removes `name` in `dirfd` and everything under it, never following a link.
    static func removeTree(_ dirfd: Int32, _ name: [UInt8], depth: Int) throws(SpoolError) {
        let label = String(decoding: name, as: UTF8.self)
        guard case .success(let st) = SystemCall.lstat(name, in: dirfd) else { return }
        if st.st_mode & S_IFMT != S_IFDIR {
            try SystemCall.sys("unlink \(label)") { SystemCall.withName(name) { unlinkat(dirfd, $0, 0) } }
            return
        }
        guard depth < maxTreeDepth else { throw SpoolError(.io, "remove \(label): nested too deeply") }
        let fd = try SystemCall.sys("open \(label)") {
            SystemCall.withName(name) { openat(dirfd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        }
        let children: [[UInt8]]
        switch DirectoryListing.names(in: fd) {
        case .success(let names): children = names
        case .failure(let errno):
            SystemCall.close(fd)
            throw SpoolError(.io, "list \(label)", errno: errno.rawValue)
        }
        do throws(SpoolError) {
            for child in children { try removeTree(fd, child, depth: depth + 1) }
        } catch {
            SystemCall.close(fd)
            throw error
        }
        SystemCall.close(fd)
        try SystemCall.sys("rmdir \(label)") { SystemCall.withName(name) { unlinkat(dirfd, $0, AT_REMOVEDIR) } }
    }
}
