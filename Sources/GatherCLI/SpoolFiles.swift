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

/// The spool as a user sees it: plain paths, read only where the daemon
/// writes. `SpoolDirectory` is the daemon's (it creates directories and
/// insists on owning them); gatherctl must neither create nor check them.
struct SpoolFiles {
    /// A job found in a state directory.
    struct Finished {
        /// `done`, `failed` or `rejected`.
        let area: String
        /// `result.json` as stored.
        let bytes: [UInt8]
        /// `result.json`, parsed.
        let record: JSONValue
    }

    let path: String

    /// The finished-job areas, where records live.
    static let finishedAreas = ["done", "failed", "rejected"]

    func area(_ name: String) -> String { "\(path)/\(name)" }

    /// Fails with a system error when the spool is not there (a typo in `--spool`).
    func requireExists() throws(CtlError) {
        var info = stat()
        if case .failure(let errno) = SystemCall.call({ stat(path, &info) }) {
            throw CtlError(.error, "cannot open spool \(path): \(errno)")
        }
    }

    /// The daemon's uid, for the validator: the spool belongs to the daemon's
    /// user (SPEC §3). Without a spool, root, as the service runs.
    var daemonUID: UInt32 {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_uid : 0
    }

    /// Whether `relative` exists (without following a final symlink). An
    /// entry the caller may not look at (`EACCES`) does not count: the
    /// create or rename that follows then reports the real problem.
    func exists(_ relative: String) -> Bool {
        var info = stat()
        return lstat("\(path)/\(relative)", &info) == 0
    }

    /// The record of job `id` once it moved to `done/`, `failed/` or `rejected/`.
    /// - Throws: a system error when the record is there but unreadable.
    func finished(_ id: String) throws(CtlError) -> Finished? {
        for area in Self.finishedAreas {
            let file = "\(path)/\(area)/\(id)/result.json"
            var info = stat()
            guard lstat("\(path)/\(area)/\(id)", &info) == 0 else { continue }
            let bytes = try Self.read(file)
            guard let record = StrictJSONReader.read(bytes).value else {
                throw CtlError(.error, "\(file): not a record this version can read")
            }
            return Finished(area: area, bytes: bytes, record: record)
        }
        return nil
    }

    /// `active/ID/state.json`, or `nil` when the job is not in `active/` or the
    /// daemon has not written the file yet.
    func state(_ id: String) -> (bytes: [UInt8], value: JSONValue, state: JobStateFile)? {
        guard let bytes = try? Self.read("\(path)/active/\(id)/state.json"),
              let value = StrictJSONReader.read(bytes).value, let state = JobStateFile(json: value) else { return nil }
        return (bytes, value, state)
    }

    /// The names in an area, sorted; dotfiles left out.
    func names(in area: String) throws(CtlError) -> [String] {
        func failure(_ errno: Errno) -> CtlError { CtlError(.error, "cannot list \(path)/\(area): \(errno)") }
        let fd: Int32
        switch SystemCall.call({ open("\(path)/\(area)", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }) {
        case .success(let value): fd = value
        case .failure(let errno): throw failure(errno)
        }
        defer { SystemCall.close(fd) }
        switch DirectoryListing.names(in: fd) {
        case .success(let raw):
            return raw.map { String(decoding: $0, as: UTF8.self) }.filter { !$0.hasPrefix(".") }.sorted()
        case .failure(let errno): throw failure(errno)
        }
    }

    /// Reads a whole file of at most `limit` bytes.
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

extension JSONValue {
    /// The string value, or `nil`.
    var text: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The integer value, or `nil`.
    var int: Int64? { if case .integer(let i) = self { return i } else { return nil } }
    /// The elements of an array, or none.
    var items: [JSONValue] { if case .array(let a) = self { return a } else { return [] } }
}
