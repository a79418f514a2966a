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

    /// Removes `cancel/NAME` once handled (SPEC §8): a file, or whatever a user
    /// dropped instead (a directory full of links), without following a link.
    public func removeCancelRequest(_ name: [UInt8]) throws(SpoolError) {
        try Self.removeTree(fd(.cancel), name, depth: 0)
    }

    /// Deepest directory tree retention removes; deeper ones are left in place.
    static let maxTreeDepth = 64

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

    /// Files waiting or running per submitter uid (SPEC §8 `--max-queued-per-user`):
    /// job files in `incoming/` by owner, and jobs in `active/` by the submitter
    /// recorded in `state.json` (or the job file's owner before it is written).
    public func queuedCounts() throws(SpoolError) -> [UInt32: Int] {
        var counts: [UInt32: Int] = [:]
        for name in try names(in: .incoming) where JobID.isCandidate(name) {
            if case .success(let st) = SystemCall.lstat(name, in: fd(.incoming)) { counts[st.st_uid, default: 0] += 1 }
        }
        for name in try names(in: .active) {
            guard case .success(let dir) = SystemCall.call({
                SystemCall.withName(name) { openat(fd(.active), $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            }) else { continue }
            defer { SystemCall.close(dir) }
            if let state = readJSON(dir, "state.json").flatMap(JobStateFile.init(json:)) {
                counts[state.uid, default: 0] += 1
            } else if case .success(let st) = SystemCall.lstat(Array("job.json".utf8), in: dir) {
                counts[st.st_uid, default: 0] += 1
            }
        }
        return counts
    }

    /// Rejects a claimed job without running it (e.g. "queue full", SPEC §8):
    /// writes its `rejected` record and moves it to `rejected/`.
    /// - Throws: ``SpoolError`` (``SpoolError/Code/recordWrite``: retry later).
    @discardableResult
    public func reject(_ job: ClaimedJob, reason: String) throws(SpoolError) -> JobRecord {
        let s = job.state
        let record = JobRecord(id: job.id, name: s.name, file: s.file, state: .rejected, policy: job.job.policy,
                               uid: s.uid, gid: s.gid, user: s.user, runAs: nil, receivedAt: s.receivedAt,
                               startedAt: nil, error: reason, tasks: [])
        try finishRejection(record)
        return record
    }

    /// ``finish(_:)`` for a rejection: a record that cannot be written travels
    /// with the error (``SpoolError/record``), for the caller to write later.
    func finishRejection(_ record: JobRecord) throws(SpoolError) {
        do {
            try finish(record)
        } catch {
            var error = error
            error.record = record
            throw error
        }
    }
}
