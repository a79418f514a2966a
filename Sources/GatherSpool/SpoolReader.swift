import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// The spool read as it is, changing nothing: what `gatherctl` shows (as any
/// user) and what the daemon's recovery reads of a job directory.
///
/// The spool directory is opened by descriptor and everything in it relative
/// to that, never following a link. Nothing is created and no owner or mode
/// is checked: that is ``SpoolDirectory``'s, the daemon's, which refuses a
/// spool that a user may still want to read.
public final class SpoolReader: Sendable {
    public typealias Area = SpoolDirectory.Area

    /// A file of the daemon's as stored: its bytes (`gatherctl show --json`
    /// prints what gatherd wrote, not a re-encoding), its JSON, and its value.
    public struct Stored<Value: Sendable>: Sendable {
        public let bytes: [UInt8]
        public let json: JSONValue
        public let value: Value
    }

    /// A finished job's record and the area that holds it.
    public struct Finished: Sendable {
        public let area: Area
        public let record: Stored<JobRecord>
    }

    /// The areas that hold records, in the order ``finished(_:)`` looks.
    public static let finishedAreas: [Area] = [.done, .failed, .rejected]

    /// The largest `result.json` or `state.json` read. A record holds up to
    /// 1 MiB of stderr tails, which JSON escaping can make several times larger.
    public static let maxFileSize = JobFileValidator.maxFileSize * 8

    /// Directories are opened `O_PATH`: every use is an `*at` call relative to
    /// them (a listing opens its own readable descriptor), and `O_PATH` needs
    /// search permission only, as a path lookup did: a group member finds its
    /// file in an `incoming/` it may enter but not list (mode 1730, SPEC §8).
    static let directoryFlags = SystemCall.pathOnly | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC

    /// The spool directory, as given.
    public let path: String
    let rootFD: Int32

    /// Opens the spool directory for reading.
    /// - Parameter path: the spool (`--spool`).
    /// - Throws: ``SpoolError`` (`open spool PATH`, with the errno) when it is
    ///   missing, not a directory, a symbolic link, or not readable.
    public init(path: String) throws(SpoolError) {
        self.path = path
        switch SystemCall.call({ open(path, Self.directoryFlags) }) {
        case .success(let fd): rootFD = fd
        case .failure(let errno): throw SpoolError(.io, "open spool \(path)", errno: errno.rawValue)
        }
    }

    deinit { SystemCall.close(rootFD) }

    /// The spool directory's owner: the daemon's user (SPEC §3).
    public var ownerUID: UInt32? {
        guard case .success(let st) = SystemCall.fstat(rootFD) else { return nil }
        return st.st_uid
    }

    /// The job IDs in `area`, sorted. Names that cannot be job IDs (the
    /// daemon's temporary dotfiles) are left out.
    /// - Throws: ``SpoolError`` (`list PATH/AREA`) when the area cannot be read.
    public func ids(in area: Area) throws(SpoolError) -> [String] {
        try names(in: area, where: JobID.isValid)
    }

    /// The names in `incoming/` the daemon takes for job files (SPEC §3: not
    /// a dotfile, ending in `.json`, whatever the rest of the name), sorted.
    public func jobFilesWaiting() throws(SpoolError) -> [String] {
        try names(in: .incoming, where: JobID.isCandidate)
    }

    /// The names in `area` that pass `keep`, sorted.
    private func names(in area: Area, where keep: ([UInt8]) -> Bool) throws(SpoolError) -> [String] {
        let listed = openArea(area).flatMap { fd in
            defer { SystemCall.close(fd) }
            return DirectoryListing.names(in: fd)
        }
        switch listed {
        case .success(let names):
            return names.filter(keep).map { String(decoding: $0, as: UTF8.self) }.sorted()
        case .failure(let errno):
            throw SpoolError(.io, "list \(path)/\(area.rawValue)", errno: errno.rawValue)
        }
    }

    /// Whether `name` is in `area`, without following a final link. An entry
    /// the caller may not look at does not count.
    public func contains(_ name: String, in area: Area) -> Bool {
        // One entry of the area, never a path through it (`../x`).
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { return false }
        guard case .success(let fd) = openArea(area) else { return false }
        defer { SystemCall.close(fd) }
        guard case .success = SystemCall.lstat(Array(name.utf8), in: fd) else { return false }
        return true
    }

    /// The record of job `id` in `area`; `nil` when the area has no job `id`.
    /// - Throws: ``SpoolError`` when the job is there but its record cannot be
    ///   read (``SpoolError/Code/io``: another user's job) or is not one this
    ///   version wrote (``SpoolError/Code/corrupt``).
    public func record(_ id: String, in area: Area) throws(SpoolError) -> Stored<JobRecord>? {
        let label = "\(path)/\(area.rawValue)/\(id)"
        guard JobID.isValid(Array(id.utf8)), contains(id, in: area) else { return nil }
        let dir = try openJob(id, in: area).mapError { SpoolError(.io, "read \(label)/result.json", errno: $0.rawValue) }.get()
        defer { SystemCall.close(dir) }
        return try Self.readRecord(in: dir, label: label)
    }

    /// The record of job `id` in whichever of `done/`, `failed/`, `rejected/` holds it.
    /// - Throws: ``SpoolError`` as ``record(_:in:)``.
    public func finished(_ id: String) throws(SpoolError) -> Finished? {
        for area in Self.finishedAreas {
            if let record = try record(id, in: area) { return Finished(area: area, record: record) }
        }
        return nil
    }

    /// `active/ID/state.json`; `nil` when the job is not in `active/`, the
    /// daemon has not written the file yet, or the caller may not read it.
    public func state(_ id: String) -> Stored<JobStateFile>? {
        guard case .success(let dir) = openJob(id, in: .active) else { return nil }
        defer { SystemCall.close(dir) }
        return try? Self.readState(in: dir, label: "\(path)/active/\(id)")
    }

    /// Whether `active/ID/job.json` is there for the caller: the job was
    /// claimed, though its `state.json` may not be written yet.
    public func hasJobFile(_ id: String) -> Bool {
        guard case .success(let dir) = openJob(id, in: .active) else { return false }
        defer { SystemCall.close(dir) }
        guard case .success = SystemCall.lstat(Array("job.json".utf8), in: dir) else { return false }
        return true
    }

    /// When job `id`'s `result.json` in `area` was written, in nanoseconds
    /// since the epoch; `nil` without a record the caller can reach.
    public func recordWritten(_ id: String, in area: Area) -> Int64? {
        guard case .success(let dir) = openJob(id, in: area) else { return nil }
        defer { SystemCall.close(dir) }
        guard case .success(let st) = SystemCall.lstat(Array("result.json".utf8), in: dir) else { return nil }
        return Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }

    /// The owner of `name` in `area` (without following a link): the
    /// submitter of a file waiting in `incoming/`. `nil` when the caller
    /// cannot look at it or it is not there.
    public func owner(of name: String, in area: Area) -> UInt32? {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { return nil }
        guard case .success(let fd) = openArea(area) else { return nil }
        defer { SystemCall.close(fd) }
        guard case .success(let st) = SystemCall.lstat(Array(name.utf8), in: fd) else { return nil }
        return st.st_uid
    }

    /// Whether the spool has `area` as a directory. A spool always has
    /// `incoming/` (the daemon, or the tmpfiles entry before the daemon's
    /// first start, makes it); the other areas come with the daemon.
    public func hasArea(_ area: Area) -> Bool {
        guard case .success(let st) = SystemCall.lstat(Array(area.rawValue.utf8), in: rootFD) else { return false }
        return st.st_mode & S_IFMT == S_IFDIR
    }

    /// Whether the spool's `paused` file exists, a regular file (SPEC §3).
    public var pauseRequested: Bool {
        guard case .success(let st) = SystemCall.lstat(Array(SpoolDirectory.pauseFile.utf8), in: rootFD) else { return false }
        return st.st_mode & S_IFMT == S_IFREG
    }

    /// Opens `area` relative to the spool, each time anew: an area the daemon
    /// creates after the reader was opened (`submit --wait` before the
    /// daemon's first start) is found.
    private func openArea(_ area: Area) -> Result<Int32, Errno> {
        SystemCall.call { openat(rootFD, area.rawValue, Self.directoryFlags) }
    }

    /// Opens the job directory `area/id`.
    private func openJob(_ id: String, in area: Area) -> Result<Int32, Errno> {
        // Only a job ID names a job directory: `../x` must never climb out.
        guard JobID.isValid(Array(id.utf8)) else { return .failure(Errno(ENOENT)) }
        return openArea(area).flatMap { fd in
            defer { SystemCall.close(fd) }
            return SystemCall.call { openat(fd, id, Self.directoryFlags) }
        }
    }
}

extension SpoolReader {
    /// Reads `result.json` in the job directory open as `jobDirectory`: the
    /// one record reader, of `gatherctl` and of recovery alike.
    /// - Parameter label: the job directory in messages (`active/ID`).
    /// - Throws: ``SpoolError``: ``SpoolError/Code/io`` with the errno
    ///   (`ENOENT`: no record), or ``SpoolError/Code/corrupt``.
    public static func readRecord(in jobDirectory: Int32, label: String, name: String = "result.json") throws(SpoolError) -> Stored<JobRecord> {
        let file = try readJSON(in: jobDirectory, name, label: label)
        guard let record = JobRecord(json: file.json, gid: file.gid) else {
            throw SpoolError(.corrupt, "\(label)/result.json: not a record this version can read")
        }
        return Stored(bytes: file.bytes, json: file.json, value: record)
    }

    /// Reads `state.json` in the job directory open as `jobDirectory`, with
    /// the lines of `state.log` applied (``ProgressLog``): the job's state
    /// now. `json` is that state as `state.json` shows it (docs/state-json.md).
    /// - Throws: ``SpoolError`` as ``readRecord(in:label:)``.
    public static func readState(in jobDirectory: Int32, label: String) throws(SpoolError) -> Stored<JobStateFile> {
        let file = try readJSON(in: jobDirectory, "state.json", label: label)
        guard var state = JobStateFile(json: file.json) else {
            throw SpoolError(.corrupt, "\(label)/state.json: not a state file this version can read")
        }
        guard state.runs > 0, let log = readProgressLog(in: jobDirectory) else {
            return Stored(bytes: file.bytes, json: file.json, value: state)
        }
        ProgressLog.apply(log, to: &state)
        let json = state.json
        return Stored(bytes: json.serializedBytes(trailingNewline: true), json: json, value: state)
    }

    /// The largest `state.log` read: about 100 bytes a line, three lines a task attempt.
    static let maxLogSize = 256 << 20

    /// `state.log`'s bytes; nil when there is none (or it is not a regular file).
    private static func readProgressLog(in dir: Int32) -> [UInt8]? {
        guard case .success(let fd) = SystemCall.call({
            openat(dir, ProgressLog.fileName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        }) else { return nil }
        defer { SystemCall.close(fd) }
        guard case .success(let st) = SystemCall.fstat(fd), st.st_mode & S_IFMT == S_IFREG else { return nil }
        return try? SystemCall.readAll(fd, limit: maxLogSize).get()
    }

    /// A JSON file of the daemon's in `dir`: a regular file (`O_NONBLOCK`: a
    /// FIFO put there must not hang the reader), read to at most ``maxFileSize``.
    private static func readJSON(in dir: Int32, _ name: String, label: String) throws(SpoolError) -> (bytes: [UInt8], json: JSONValue, gid: UInt32) {
        let what = "\(label)/\(name)"
        let fd = try SystemCall.sys("read \(what)") { openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        defer { SystemCall.close(fd) }
        let st = try SystemCall.fstat(fd, what)
        guard st.st_mode & S_IFMT == S_IFREG else { throw SpoolError(.corrupt, "\(what): not a regular file") }
        let bytes: [UInt8]
        switch SystemCall.readAll(fd, limit: maxFileSize + 1) {
        case .success(let read): bytes = read
        case .failure(let errno): throw SpoolError(.io, "read \(what)", errno: errno.rawValue)
        }
        guard bytes.count <= maxFileSize else { throw SpoolError(.corrupt, "\(what): larger than \(maxFileSize) bytes") }
        guard let json = StrictJSONReader.read(bytes).value else { throw SpoolError(.corrupt, "\(what): not valid JSON") }
        return (bytes, json, st.st_gid)
    }
}
