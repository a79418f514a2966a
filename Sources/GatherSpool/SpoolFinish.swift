import GatherSystem
import CLinux
#if canImport(Glibc)
import Glibc
#endif

extension SpoolDirectory {
    /// Writes a job's record and moves the job to its state directory (SPEC §3, §6):
    /// `active/ID/result.json` through a temporary file (owned by the daemon's
    /// user, group `record.gid`, 0640, fsynced, renamed), the directory to
    /// 0750 with that group, then one rename of `active/ID` to `done/ID`,
    /// `failed/ID` or `rejected/ID`, and an fsync of both parent directories.
    ///
    /// Safe to call again after a failure: a retry rewrites the record and
    /// completes the move; a job already moved counts as finished.
    /// - Throws: ``SpoolError`` with code ``SpoolError/Code/recordWrite`` when
    ///   the record cannot be written (ENOSPC, EIO, read-only): the job stays in
    ///   `active/`; stop claiming and retry later (SPEC §3).
    public func finish(_ record: JobRecord) throws(SpoolError) {
        let id = record.id
        let target = record.stateDirectory
        let dir: Int32
        switch SystemCall.call({ openat(fd(.active), id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }) {
        case .success(let f): dir = f
        case .failure(let e) where e.rawValue == ENOENT:
            // Already moved by an earlier try whose last steps failed.
            if case .success = SystemCall.lstat(Array(id.utf8), in: fd(target)) { return }
            throw SpoolError(.io, "finish \(id): active/\(id) is missing", errno: e.rawValue)
        case .failure(let e): throw SpoolError(.recordWrite, "open active/\(id)", errno: e.rawValue)
        }
        defer { SystemCall.close(dir) }
        let text = record.json.serializedBytes(trailingNewline: true)
        try writeAtomically(dir, "result.json", text, gid: record.gid, label: "active/\(id)")
        try checkpoint(.finishResultInPlace)
        // A finished job's directory holds job.json and result.json (SPEC §3);
        // progress ends with the record. Left behind, it would only be stale.
        _ = SystemCall.call { unlinkat(dir, "state.json", 0) }
        try setOwner(dir, gid: record.gid, mode: 0o750, label: "active/\(id)")
        try SystemCall.sys("fsync active/\(id)", code: .recordWrite) { fsync(dir) }
        try moveFinished(id: id, to: target)
    }

    /// The rename of `active/ID` into its state directory, then both fsyncs.
    func moveFinished(id: String, to target: Area) throws(SpoolError) {
        try SystemCall.sys("rename active/\(id) to \(target.rawValue)/\(id)", code: .recordWrite) {
            clinux_rename_noreplace(fd(.active), id, fd(target), id)
        }
        try checkpoint(.finishDirectoryMoved)
        try SystemCall.sys("fsync \(target.rawValue)", code: .recordWrite) { fsync(fd(target)) }
        try SystemCall.sys("fsync active", code: .recordWrite) { fsync(fd(.active)) }
    }

    /// Rewrites `active/ID/state.json` atomically (progress, process groups, runs).
    /// - Parameter durable: fsync it first. Progress and process groups (written
    ///   on every process start) need not be: they only matter within this boot,
    ///   and a crashed daemon's writes are still in the page cache. The run count
    ///   and `running` phase (``markStarted(_:)``) are.
    /// - Throws: ``SpoolError`` (``SpoolError/Code/recordWrite`` when it cannot be written).
    public func writeState(_ state: JobStateFile, durable: Bool = true) throws(SpoolError) {
        let dir = try SystemCall.sys("open active/\(state.id)", code: .recordWrite) {
            openat(fd(.active), state.id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        defer { SystemCall.close(dir) }
        try writeAtomically(
            dir, "state.json", state.json.serializedBytes(trailingNewline: true), gid: state.gid, label: "active/\(state.id)",
            durable: durable)
    }

    /// Records that a run of the job starts now: `runs` + 1, this boot's ID,
    /// `started_at`, state `running`, no process groups yet. Call it before the
    /// first task starts, so a crash is seen as an interrupted run.
    /// - Returns: the state as written.
    public func markStarted(_ job: ClaimedJob) throws(SpoolError) -> JobStateFile {
        var state = job.state
        state.runs += 1
        state.bootID = bootID
        state.startedAt = .now()
        state.phase = .running
        state.processGroups = []
        state.tasks = job.job.tasks.map { .init(name: $0.name, status: .waiting) }
        try writeState(state)
        return state
    }
}
