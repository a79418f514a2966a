import GatherSystem
import GatherSpool
#if canImport(Glibc)
import Glibc
#endif

/// Job IDs as text (SPEC §3).
enum JobIDText {
    /// Whether `id` matches `^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$`; an ID
    /// that does not can never name a job, and can never climb out of the
    /// spool (`../x`).
    static func isValid(_ id: String) -> Bool { JobID.isValid(Array(id.utf8)) }
}

/// The spool as a user sees it. Everything gatherctl reads goes through
/// ``SpoolReader`` (by descriptor, never following a link); `SpoolDirectory`
/// is the daemon's (it creates directories and insists on owning them), and
/// gatherctl must neither create nor check them. What is left here is
/// gatherctl's own: its error lines, and the paths of the two areas it
/// writes in (`incoming/`, `cancel/`).
struct SpoolFiles {
    let path: String
    /// The spool opened for reading, or why it could not be: `validate` runs
    /// without a spool, so only the commands that need one report it.
    private let opened: Result<SpoolReader, SpoolError>

    init(path: String) {
        self.path = path
        opened = Result { () throws(SpoolError) in try SpoolReader(path: path) }
    }

    /// The path of an area, for the files gatherctl writes there.
    func area(_ area: SpoolReader.Area) -> String { "\(path)/\(area.rawValue)" }

    /// The spool's reader.
    /// - Throws: a system error when the spool is not there (a typo in
    ///   `--spool`) or the directory is not a spool (it has no `incoming/`).
    func reader() throws(CtlError) -> SpoolReader {
        let reader: SpoolReader
        do { reader = try opened.get() } catch { throw Self.failure(error) }
        guard reader.hasArea(.incoming) else {
            throw CtlError(.error, "\(path) is not a gatherd spool (it has no incoming/ directory): "
                           + "give the spool with --spool or $GATHER_SPOOL")
        }
        return reader
    }

    /// Whether a gatherd serves the spool (its `flock`, SPEC §10); a spool
    /// that cannot be opened has none.
    func daemonPresence() -> DaemonPresence {
        (try? opened.get())?.daemonPresence() ?? .absent
    }

    /// The user that submitted job `id`: the owner of its `incoming/` file
    /// while it waits, the `uid` of its `state.json` once claimed; `nil`
    /// when the caller cannot read either.
    func submitter(of id: String) -> UInt32? {
        if let state = state(id) { return state.value.uid }
        return (try? opened.get())?.owner(of: "\(id).json", in: .incoming)
    }

    /// Fails with a system error when the spool is not there.
    func requireExists() throws(CtlError) { _ = try reader() }

    /// The daemon's uid, for the validator: the spool belongs to the daemon's
    /// user (SPEC §3). Without a spool, root, as the service runs.
    var daemonUID: UInt32 { (try? opened.get())?.ownerUID ?? 0 }

    /// Whether `name` is in `area` (without following a final symlink). An
    /// entry the caller may not look at (`EACCES`) does not count: the
    /// create or rename that follows then reports the real problem.
    func contains(_ name: String, in area: SpoolReader.Area) -> Bool {
        (try? opened.get())?.contains(name, in: area) ?? false
    }

    /// The record of job `id` once it moved to `done/`, `failed/` or `rejected/`.
    /// - Throws: a system error when the record is there but unreadable.
    func finished(_ id: String) throws(CtlError) -> SpoolReader.Finished? {
        let reader = try reader()
        do { return try reader.finished(id) } catch { throw Self.failure(error) }
    }

    /// As ``finished(_:)``, but a record the caller may not read (another
    /// user's job, in a directory of mode 0750) is `nil`: to the caller it is
    /// no job of theirs (SPEC §10).
    func finishedIfReadable(_ id: String) throws(CtlError) -> SpoolReader.Finished? {
        let reader = try reader()
        do { return try reader.finished(id) } catch {
            if let errno = error.errno, errno.rawValue == EACCES || errno.rawValue == EPERM { return nil }
            throw Self.failure(error)
        }
    }

    /// `active/ID/state.json`, or `nil` when the job is not in `active/` or the
    /// daemon has not written the file yet.
    func state(_ id: String) -> SpoolReader.Stored<JobStateFile>? {
        (try? opened.get())?.state(id)
    }

    /// The job IDs in an area, sorted.
    func ids(in area: SpoolReader.Area) throws(CtlError) -> [String] {
        let reader = try reader()
        do { return try reader.ids(in: area) } catch { throw Self.failure(error) }
    }

    /// A spool error as gatherctl reports it (`cannot read …: Permission denied`).
    private static func failure(_ error: SpoolError) -> CtlError {
        // A corrupt file's context already says what is wrong with it.
        if error.code == .corrupt { return CtlError(.error, error.context) }
        return CtlError(.error, "cannot \(error.context)" + (error.errno.map { ": \($0)" } ?? ""))
    }

    /// Reads a whole job file of at most `limit` bytes (not a spool file: those
    /// are ``SpoolReader``'s).
    /// - Parameter path: a path, or `-` for stdin.
    /// - Throws: a system error naming the file.
    static func read(_ path: String, limit: Int = JobFileValidator.maxFileSize + 1) throws(CtlError) -> [UInt8] {
        func failure(_ errno: Errno) -> CtlError { CtlError(.error, "cannot read \(path): \(errno)") }
        var fd: Int32 = 0
        if path != "-" {
            switch SystemCall.call({ open(path, O_RDONLY | O_CLOEXEC) }) {
            case .success(let value): fd = value
            case .failure(let errno): throw failure(errno)
            }
        }
        defer { if fd != 0 { SystemCall.close(fd) } }
        switch SystemCall.readAll(fd, limit: limit) {
        case .success(let bytes): return bytes
        case .failure(let errno): throw failure(errno)
        }
    }
}
