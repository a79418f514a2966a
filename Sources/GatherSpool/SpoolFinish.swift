import GatherSystem
import CLinux
#if canImport(Glibc)
import Glibc
#endif

extension SpoolDirectory {
    /// Writes a job's record and moves the job to its state directory (SPEC §3, §6):
    /// ``writeRecord(_:)``, one ``commit()``, then ``moveFinished(_:)``.
    /// The supervisor makes the three steps itself, to share the commit
    /// between the records, claims and starts of one turn.
    ///
    /// Safe to call again after a failure: a retry rewrites the record and
    /// completes the move; a job already moved counts as finished.
    /// - Throws: ``SpoolError`` with code ``SpoolError/Code/recordWrite`` when
    ///   the record cannot be written (ENOSPC, EIO, read-only): the job stays in
    ///   `active/`; stop claiming and retry later (SPEC §3).
    public func finish(_ record: JobRecord) throws(SpoolError) {
        guard try writeRecord(record) else { return }
        try commit()
        try moveFinished(record)
    }

    /// The first step of a finish: the record written to
    /// `active/ID/.result.json.tmp` (owned by the daemon's user, group
    /// `record.gid`, 0640), durable at the next ``commit()``. Nothing is
    /// renamed before that commit, so no `result.json` is ever in place
    /// before its content is durable; recovery takes a complete temporary
    /// record for the record (it was the job's end).
    /// - Returns: false when the job was moved already (an earlier try whose last steps failed).
    /// - Throws: as ``finish(_:)``.
    @discardableResult
    public func writeRecord(_ record: JobRecord) throws(SpoolError) -> Bool {
        let id = record.id
        let dir: Int32
        switch SystemCall.call({ openat(fd(.active), id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }) {
        case .success(let f): dir = f
        case .failure(let e) where e.rawValue == ENOENT:
            if case .success = SystemCall.lstat(Array(id.utf8), in: fd(record.stateDirectory)) { return false }
            throw SpoolError(.io, "finish \(id): active/\(id) is missing", errno: e.rawValue)
        case .failure(let e): throw SpoolError(.recordWrite, "open active/\(id)", errno: e.rawValue)
        }
        defer { SystemCall.close(dir) }
        let text = record.json.serializedBytes(trailingNewline: true)
        try writeTemporary(dir, "result.json", text, gid: record.gid, label: "active/\(id)")
        try checkpoint(.finishTemporaryWritten)
        return true
    }

    /// The last step of a finish, after the ``commit()`` that made the record
    /// durable: `.result.json.tmp` renamed to `result.json`, `state.json` and
    /// `state.log` removed (progress ends with the record), the directory
    /// 0750 with the record's group, then one rename of `active/ID` to
    /// `done/ID`, `failed/ID` or `rejected/ID`. These are durable at the next
    /// commit; a power loss before that leaves the durable record in
    /// `active/ID`, and recovery completes the rest.
    public func moveFinished(_ record: JobRecord) throws(SpoolError) {
        let id = record.id
        // Moved by an earlier try whose last steps failed.
        if case .failure(let e) = SystemCall.lstat(Array(id.utf8), in: fd(.active)), e.rawValue == ENOENT,
           case .success = SystemCall.lstat(Array(id.utf8), in: fd(record.stateDirectory)) {
            return
        }
        let dir = try SystemCall.sys("open active/\(id)", code: .recordWrite) {
            openat(fd(.active), id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        defer { SystemCall.close(dir) }
        // A retry after the rename: the record is in place already.
        if case .success = SystemCall.lstat(Array(".result.json.tmp".utf8), in: dir) {
            try renameTemporary(dir, "result.json", label: "active/\(id)")
        }
        try checkpoint(.finishResultInPlace)
        // A finished job's directory holds job.json and result.json (SPEC §3).
        _ = SystemCall.call { unlinkat(dir, "state.json", 0) }
        _ = SystemCall.call { unlinkat(dir, ProgressLog.fileName, 0) }
        try setOwner(dir, gid: record.gid, mode: 0o750, label: "active/\(id)")
        try moveFinished(id: id, to: record.stateDirectory)
    }

    /// The path of a finished job's `result.json` in its state directory
    /// (`GATHER_RECORD` of its hooks, SPEC §11).
    public func finalRecordPath(_ record: JobRecord) -> String {
        "\(path)/\(record.stateDirectory.rawValue)/\(record.id)/result.json"
    }

    /// Replaces a finished job's `result.json` (in `done/`, `failed/`) by
    /// `record` once its hooks ended (SPEC §11): a temporary file owned by
    /// the daemon's user, group `record.gid`, 0640, synced, then renamed over
    /// the record and the directory synced. Off the supervisor: it touches
    /// nothing but that job's directory, which no one else writes once moved.
    public func rewriteFinishedRecord(_ record: JobRecord) throws(SpoolError) {
        let area = record.stateDirectory
        let label = "\(area.rawValue)/\(record.id)"
        let dir = try SystemCall.sys("open \(label)", code: .recordWrite) {
            openat(fd(area), record.id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        defer { SystemCall.close(dir) }
        let temp = ".result.json.tmp"
        _ = SystemCall.call { unlinkat(dir, temp, 0) }
        do throws(SpoolError) {
            let file = try SystemCall.sys("create \(label)/\(temp)", code: .recordWrite) {
                openat(dir, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o640)
            }
            defer { SystemCall.close(file) }
            try setOwner(file, gid: record.gid, mode: 0o640, label: "\(label)/\(temp)")
            do { try SystemCall.writeAll(file, record.json.serializedBytes(trailingNewline: true), "\(label)/\(temp)") }
            catch { throw error.relabelled(.recordWrite) }
            try SystemCall.sys("fsync \(label)/\(temp)", code: .recordWrite) { fsync(file) }
            try SystemCall.sys("rename \(label)/\(temp)", code: .recordWrite) { renameat(dir, temp, dir, "result.json") }
        } catch {
            _ = SystemCall.call { unlinkat(dir, temp, 0) }
            throw error
        }
        _ = SystemCall.call { fsync(dir) }
    }

    /// The rename of `active/ID` into its state directory.
    func moveFinished(id: String, to target: Area) throws(SpoolError) {
        try SystemCall.sys("rename active/\(id) to \(target.rawValue)/\(id)", code: .recordWrite) {
            clinux_rename_noreplace(fd(.active), id, fd(target), id)
        }
        pendSync(areas: .active, target)
        try checkpoint(.finishDirectoryMoved)
    }

    /// Rewrites `active/ID/state.json` atomically (the claim, a run's start),
    /// without an fsync: the caller makes it durable with ``commit()``, once
    /// for everything written together (docs/state-json.md, "Durability").
    /// - Throws: ``SpoolError`` (``SpoolError/Code/recordWrite`` when it cannot be written).
    public func writeState(_ state: JobStateFile) throws(SpoolError) {
        let dir = try SystemCall.sys("open active/\(state.id)", code: .recordWrite) {
            openat(fd(.active), state.id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        defer { SystemCall.close(dir) }
        try writeState(state, in: dir)
    }

    func writeState(_ state: JobStateFile, in dir: Int32) throws(SpoolError) {
        try writeAtomically(
            dir, "state.json", state.json.serializedBytes(trailingNewline: true), gid: state.gid, label: "active/\(state.id)")
    }

    /// A run of a job that has begun: its `state.json` as written and the log its progress goes to.
    public struct StartedRun: Sendable {
        public let state: JobStateFile
        public let log: ProgressLog
    }

    /// Records that a run of the job starts now: `runs` + 1, this boot's ID,
    /// `started_at`, state `running`, every task `waiting`, and an empty
    /// `state.log` (a former run's is removed first, so its lines never
    /// apply to this run). Call it before the first task starts, then
    /// ``commit()`` before any task runs: a power loss must never make a
    /// started job look never started (it would run twice).
    public func markStarted(_ job: ClaimedJob, run: String? = nil) throws(SpoolError) -> StartedRun {
        var state = job.state
        state.runs += 1
        state.run = run
        state.bootID = bootID
        state.startedAt = .now()
        state.phase = .running
        state.processGroups = []
        state.slurmJobs = []
        state.tasks = job.job.tasks.map { .init(name: $0.name, status: .waiting) }
        let label = "active/\(state.id)"
        let dir = try SystemCall.sys("open \(label)", code: .recordWrite) {
            openat(fd(.active), state.id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        defer { SystemCall.close(dir) }
        _ = SystemCall.call { unlinkat(dir, ProgressLog.fileName, 0) }
        try writeState(state, in: dir)
        let log = try createProgressLog(in: dir, gid: state.gid, label: label)
        return StartedRun(state: state, log: log)
    }

    /// Makes everything the daemon wrote to the spool since the last commit
    /// durable: the group commit of the claims, starts and records of one
    /// supervisor turn (docs/state-json.md, "Durability").
    ///
    /// A few descriptors (one job's claim or record) are fsynced one by one,
    /// writeback of the files started first: that costs what the job wrote,
    /// whatever else the file system holds, and on a journaling file system
    /// the first fsync's commit carries the rest. From ``PendingSync/groupSize``
    /// on (a burst), one `syncfs(2)` of the spool's file system replaces them:
    /// one pass over the dirty inodes and one device flush for the whole
    /// batch, where per-file fsyncs would flush once each (a file system
    /// without a journal cannot share them at all).
    /// - Throws: ``SpoolError`` with code ``SpoolError/Code/recordWrite``: what
    ///   was written may not be durable (every descriptor was still tried).
    public func commit() throws(SpoolError) {
        let batch = pendingSync.withLock { pending in
            defer { pending = PendingSync() }
            return pending
        }
        try sync(batch)
    }

    /// Syncs the whole spool (`syncfs`) with whatever the next commit would
    /// have synced: after a failed commit, whose descriptors are gone, and at
    /// recovery, for what a crashed daemon left in the page cache.
    public func commitAll() throws(SpoolError) {
        let batch = pendingSync.withLock { pending in
            defer { pending = PendingSync() }
            return pending
        }
        (batch.files.descriptors + batch.directories.descriptors).forEach(SystemCall.close)
        try SystemCall.sys("syncfs \(path)", code: .recordWrite) { clinux_syncfs(rootFD) }
    }

    /// Syncs a batch and closes its descriptors; the first failure is thrown
    /// (or one an earlier, early commit of this turn kept).
    func sync(_ batch: PendingSync) throws(SpoolError) {
        var failure = batch.failure
        if batch.count >= PendingSync.groupSize, SystemMemory.dirtyBytes().map({ $0 <= PendingSync.syncfsDirtyLimit }) ?? false {
            if case .failure(let e) = SystemCall.call({ clinux_syncfs(rootFD) }), failure == nil {
                failure = SpoolError(.recordWrite, "syncfs \(path)", errno: e.rawValue)
            }
            (batch.files.descriptors + batch.directories.descriptors).forEach(SystemCall.close)
            if let failure { throw failure }
            return
        }
        for fd in batch.files.descriptors { _ = clinux_start_writeback(fd) }
        for (fd, label) in zip(batch.files.descriptors + batch.directories.descriptors, batch.files.labels + batch.directories.labels) {
            if case .failure(let e) = SystemCall.call({ fsync(fd) }), failure == nil {
                failure = SpoolError(.recordWrite, "fsync \(label)", errno: e.rawValue)
            }
            SystemCall.close(fd)
        }
        for area in Area.allCases where batch.areas.contains(area) {
            if case .failure(let e) = SystemCall.call({ fsync(fd(area)) }), failure == nil {
                failure = SpoolError(.recordWrite, "fsync \(area.rawValue)", errno: e.rawValue)
            }
        }
        if let failure { throw failure }
    }
}

/// What the next ``SpoolDirectory/commit()`` syncs: descriptors of files and
/// job directories written since the last one (duplicates, owned here), and
/// the areas whose entries changed.
struct PendingSync: Sendable {
    /// Descriptors by label (`active/ID/state.json`, `active/ID`): one per
    /// label, the last one kept (a file written again needs its last version
    /// synced only; a directory once).
    struct Kept: Sendable {
        private(set) var descriptors: [Int32] = []
        private(set) var labels: [String] = []
        private var index: [String: Int] = [:]

        mutating func keep(_ fd: Int32, label: String) {
            if let same = index[label] {
                SystemCall.close(descriptors[same])
                descriptors[same] = fd
            } else {
                index[label] = descriptors.count
                descriptors.append(fd)
                labels.append(label)
            }
        }
    }
    var files = Kept()
    var directories = Kept()
    var count: Int { files.descriptors.count + directories.descriptors.count }
    var areas: Set<SpoolDirectory.Area> = []
    /// A failure of an early commit (too many descriptors kept), for the turn's own.
    var failure: SpoolError?

    /// Descriptors kept before a commit is made early: a burst of thousands
    /// of claims in one turn must not run out of descriptors.
    static let limit = 512
    /// Descriptors from which one `syncfs` replaces the fsyncs: more than one job's worth.
    static let groupSize = 3
    /// `syncfs` writes out everything dirty on the file system, the spool's
    /// or not: only while the machine's dirty data (`Dirty:` in
    /// `/proc/meminfo`) is below this does a batch take it. Above it (a
    /// backup writing gigabytes), the batch's own fsyncs bound the wait.
    static let syncfsDirtyLimit: UInt64 = 64 << 20
}

extension SpoolDirectory {
    /// Keeps `fd` (a file written, or a job directory whose entries changed)
    /// for the next commit: a duplicate, so the caller closes its own.
    func pendSync(file fd: Int32, label: String) { pend(fd, label: label, directory: false) }
    func pendSync(directory fd: Int32, label: String) { pend(fd, label: label, directory: true) }

    /// The entries of `areas` changed (a claim, a move): their directories are synced at the next commit.
    func pendSync(areas: Area...) {
        pendingSync.withLock { $0.areas.formUnion(areas) }
    }

    private func pend(_ fd: Int32, label: String, directory: Bool) {
        guard case .success(let copy) = SystemCall.call({ fcntl(fd, F_DUPFD_CLOEXEC, 3) }) else {
            // No descriptor to keep: sync it now instead.
            _ = SystemCall.call { fsync(fd) }
            return
        }
        let early: PendingSync? = pendingSync.withLock { pending in
            if directory { pending.directories.keep(copy, label: label) } else { pending.files.keep(copy, label: label) }
            guard pending.count >= PendingSync.limit else { return nil }
            defer { pending = PendingSync() }
            return pending
        }
        if let early {
            do throws(SpoolError) { try sync(early) } catch {
                pendingSync.withLock { if $0.failure == nil { $0.failure = error } }
            }
        }
    }
}
