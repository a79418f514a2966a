import GatherSystem
import CLinux
import Gather
#if canImport(Glibc)
import Glibc
#endif

/// A job claimed into `active/ID/`, checked, read once and valid: ready to run.
public struct ClaimedJob: Sendable {
    public let id: String
    public let job: JobFile
    /// The submitter (the file owner at the claim), when it has a passwd entry.
    public let owner: UserAccount?
    /// The account tasks run as (SPEC §8); hand it to the process launcher.
    public let runAs: UserAccount
    /// `state.json` as written; pass it back to ``SpoolDirectory/writeState(_:)`` with changes.
    public var state: JobStateFile
    /// The bytes read at the claim, which replace the submitter's `job.json`
    /// once `state.json` is durable (``SpoolDirectory/seal(_:)``); nil once done.
    public internal(set) var unsealedJobFile: [UInt8]?
    /// Whether `state.json` was written (a claim ``SpoolDirectory/claim(_:deferringState:)``
    /// asked to defer it has not).
    public internal(set) var stateWritten: Bool
}

/// What became of a file the daemon tried to claim.
public enum ClaimOutcome: Sendable {
    /// Claimed and valid.
    case claimed(ClaimedJob)
    /// Not a valid job: its record is in `rejected/ID/`.
    case rejected(JobRecord)
    /// Not a job file name (starts with `.` or lacks `.json`): left alone.
    case ignored
    /// The file was gone before it could be moved (claimed elsewhere or removed).
    case vanished
}

extension SpoolDirectory {
    /// Claims `incoming/NAME` (SPEC §3, §8): `mkdir active/ID` (0700), a
    /// no-replace rename of the file to `active/ID/job.json`, then one open with
    /// `O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC`, the `fstat` checks, one bounded read,
    /// validation, `state.json`, and the hand-over of file and directory to the
    /// daemon's user with the submitter's group. A file that fails is recorded
    /// in `rejected/` before this returns.
    /// - Parameter name: the entry's name in `incoming/` (bytes, as the directory holds it).
    /// - Throws: ``SpoolError``; code ``SpoolError/Code/recordWrite`` means a
    ///   record could not be written (stop claiming, retry later: the job stays
    ///   in `active/` and recovery or ``finish(_:)`` completes it).
    /// - Parameter deferringState: leave `state.json` to the caller, who writes
    ///   it (``writeState(_:)``, or ``markStarted(_:)`` for a job that starts at
    ///   once) before the commit that precedes ``seal(_:)``; until then the
    ///   submitter's file in place names the submitter, as recovery expects.
    public func claim(
        _ name: [UInt8], deferringState: Bool = false, skippingOpenForWriting: Bool = false
    ) throws(SpoolError) -> ClaimOutcome {
        guard JobID.isCandidate(name) else { return .ignored }
        if isLeftInPlace(name) { return .ignored }
        // A full scan finds files some process is still writing in place; their
        // IN_CLOSE_WRITE picks them up once written (SPEC §3).
        if skippingOpenForWriting, Self.isOpenForWriting(name, in: fd(.incoming)) { return .ignored }
        let file = String(decoding: name, as: UTF8.self)
        let (base, validName) = JobID.requested(byFileName: name)
        var id = freeID(base)
        while true {
            switch SystemCall.call({ mkdirat(fd(.active), id, 0o700) }) {
            case .success: break
            case .failure(let e) where e.rawValue == EEXIST: id = freeID(base); continue
            case .failure(let e): throw SpoolError(.recordWrite, "mkdir active/\(id)", errno: e.rawValue)
            }
            break
        }
        try checkpoint(.claimDirectoryMade)
        let dir = try SystemCall.sys("open active/\(id)") { openat(fd(.active), id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        defer { SystemCall.close(dir) }
        let moved = SystemCall.call { SystemCall.withName(name) { clinux_rename_noreplace(fd(.incoming), $0, dir, "job.json") } }
        if case .failure(let e) = moved {
            // EACCES/EPERM: a directory of another user cannot be moved (its `..`
            // would change) by a daemon not running as root; EBUSY: a mount point.
            // The entry's own fault, not the spool's: recorded where it lies.
            if [EACCES, EPERM, EBUSY].contains(e.rawValue) {
                return try rejectInPlace(name, id: id, file: file, errno: e.rawValue)
            }
            _ = SystemCall.call { unlinkat(fd(.active), id, AT_REMOVEDIR) }
            if e.rawValue == ENOENT { return .vanished }
            throw SpoolError(.io, "rename incoming/\(file) to active/\(id)/job.json", errno: e.rawValue)
        }
        pendSync(areas: .incoming, .active)
        try checkpoint(.claimFileMoved)
        let problems = validName ? [] : [JobFileProblem(path: "", message: "file name must match ^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}\\.json$")]
        return try examine(dir: dir, id: id, file: file, receivedAt: .now(), stored: nil, deferringState: deferringState,
                           extraProblems: problems)
    }

    /// Whether `incoming/NAME`, a regular file with one link, is open for
    /// writing by some process now (no read lease can be had). Anything
    /// else, or when leases cannot tell (a file system without them), is not:
    /// the claim goes on as before. Only a regular file is opened
    /// (read-only, never read), so no FIFO or device is ever touched here.
    static func isOpenForWriting(_ name: [UInt8], in dirfd: Int32) -> Bool {
        guard case .success(let st) = SystemCall.lstat(name, in: dirfd), nonRegularKind(st) == nil, st.st_nlink == 1 else {
            return false
        }
        guard case .success(let file) = SystemCall.call({
            SystemCall.withName(name) { openat(dirfd, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }
        }) else { return false }
        defer { SystemCall.close(file) }
        guard case .success(let opened) = SystemCall.fstat(file), nonRegularKind(opened) == nil else { return false }
        return clinux_open_for_writing(file) == 1
    }

    /// An entry of `incoming/` that cannot be moved into `active/ID/`: its record
    /// goes in `rejected/ID/` (without `job.json`), the entry stays in
    /// `incoming/` for its owner or an administrator to remove, and this spool
    /// instance ignores it from now on (a restart records it once more).
    private func rejectInPlace(_ name: [UInt8], id: String, file: String, errno: Int32) throws(SpoolError) -> ClaimOutcome {
        let st: stat
        switch SystemCall.lstat(name, in: fd(.incoming)) {
        case .success(let found): st = found
        case .failure:
            _ = SystemCall.call { unlinkat(fd(.active), id, AT_REMOVEDIR) }
            return .vanished
        }
        let kind = Self.nonRegularKind(st) ?? "a file"
        let account = UserAccount.cached(uid: st.st_uid)
        let error = "the entry cannot be moved out of incoming/ (\(kind)): \(Errno(errno)); left in incoming/"
        let record = JobRecord(id: id, name: id, file: file, state: .rejected, policy: nil, uid: st.st_uid,
                               gid: account?.gid ?? daemonGID, user: account?.name, runAs: nil, receivedAt: .now(),
                               startedAt: nil, error: error, tasks: [])
        try finishRejection(record)
        _ = leftInPlace.withLock { $0.insert(EntryKey(st)) }
        return .rejected(record)
    }

    /// Whether `incoming/NAME` was rejected where it lies already (it is no
    /// longer waiting to be claimed).
    public func isLeftInPlace(_ name: [UInt8]) -> Bool {
        guard !leftInPlace.withLock({ $0.isEmpty }) else { return false }
        guard case .success(let st) = SystemCall.lstat(name, in: fd(.incoming)) else { return false }
        return leftInPlace.withLock { $0.contains(EntryKey(st)) }
    }

    /// The claim convenience for a name that is valid UTF-8.
    public func claim(_ name: String) throws(SpoolError) -> ClaimOutcome { try claim(Array(name.utf8)) }

    /// Opens, checks and reads `job.json` in a claimed directory, then either
    /// completes the claim (state, ownership) or records a rejection. Shared by
    /// the claim and recovery (which passes the `state.json` it found).
    func examine(dir: Int32, id: String, file: String, receivedAt: Timestamp, stored: JobStateFile?, deferringState: Bool = false,
                 extraProblems: [JobFileProblem]) throws(SpoolError) -> ClaimOutcome {
        var problems = extraProblems
        var owner: UInt32
        var bytes: [UInt8]? = nil
        var fd: Int32 = -1
        defer { SystemCall.close(fd) }
        // Not a regular file with one link (a symlink, FIFO, device, socket,
        // directory, hard link): rejected, and deleted once its record is
        // written, never followed (SPEC §3 `rejected/ID/`).
        let hostile: Bool
        switch SystemCall.lstat(Array("job.json".utf8), in: dir) {
        case .success(let st):
            owner = st.st_uid
            hostile = Self.nonRegularKind(st) != nil || st.st_nlink != 1
        case .failure(let e): throw SpoolError(.io, "stat active/\(id)/job.json", errno: e.rawValue)
        }
        switch SystemCall.call({ openat(dir, "job.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) }) {
        case .success(let f):
            fd = f
            let st = try SystemCall.fstat(f, "active/\(id)/job.json")
            if let why = Self.unsafeFile(st) {
                problems.append(JobFileProblem(path: "", message: why))
            } else {
                bytes = try Self.readBounded(f, label: "active/\(id)/job.json")
                if bytes!.count > JobFileValidator.maxFileSize { problems.append(JobFileProblem(path: "", message: "the file is larger than 1 MiB")); bytes = nil }
            }
        case .failure(let e) where e.rawValue == ELOOP:
            problems.append(JobFileProblem(path: "", message: "the file is a symbolic link"))
        case .failure(let e) where e.rawValue == ENXIO:
            problems.append(JobFileProblem(path: "", message: "the file is a socket"))
        case .failure(let e):
            problems.append(JobFileProblem(path: "", message: "the file cannot be opened: \(Errno(e.rawValue))"))
        }
        // After a crash the file already belongs to the daemon: the submitter is in state.json.
        if let stored { owner = stored.uid }
        let account = UserAccount.cached(uid: owner)
        let gid = stored?.gid ?? account?.gid ?? daemonGID
        var validation: JobFileValidation? = nil
        if let bytes {
            let v = JobFileValidator.validate(bytes, context: JobFileContext(
                ownerUID: owner, daemonUID: daemonUID,
                lookupName: { UserAccount.cached(name: $0) }, lookupUID: { UserAccount.cached(uid: $0) }))
            problems += v.problems
            validation = v
        }
        let name = validation?.job?.name ?? id
        guard problems.isEmpty, let job = validation?.job, let runAs = validation?.runAs else {
            let record = JobRecord(id: id, name: name, file: file, state: .rejected, policy: nil, uid: owner, gid: gid,
                                   user: account?.name, runAs: nil, receivedAt: stored?.receivedAt ?? receivedAt,
                                   startedAt: nil, error: problems.map(\.description).joined(separator: "; "), tasks: [])
            // The record first: until it is written the file must stay its
            // submitter's, or recovery would take the daemon's user for the
            // submitter and could run the job as that user.
            try finishRejection(record)
            if hostile {
                removeRejectedEntry(id: id)
                return .rejected(record)
            }
            // A checked regular file is the daemon's from now on, whatever its content
            // (the descriptor still reaches it in rejected/); anything else (a link,
            // a FIFO, a hard link) is moved but never touched. The record is safe:
            // a failure here leaves the file its submitter's, nothing more.
            if bytes != nil { _ = try? setOwner(fd, gid: gid, mode: 0o640, label: "rejected/\(id)/job.json") }
            return .rejected(record)
        }
        let state = stored ?? JobStateFile(id: id, file: file, name: name, policy: job.policy, uid: owner, gid: gid,
                                           user: account?.name, runAs: runAs.name, receivedAt: receivedAt,
                                           tasks: job.tasks.map { .init(name: $0.name, status: .waiting) })
        if stored == nil, !deferringState {
            try writeAtomically(dir, "state.json", state.json.serializedBytes(trailingNewline: true), gid: gid, label: "active/\(id)")
        }
        try checkpoint(.claimStateWritten)
        // The daemon's own copy of the bytes it read replaces the file (owned by
        // the daemon, the submitter's group, 0640). A descriptor the submitter
        // opened before the drop reaches only the old file, never job.json: the
        // checked file cannot be edited afterwards (SPEC §3), nor what recovery
        // reads. Only once state.json is durable, so that no crash or power loss
        // leaves a daemon-owned job.json without the state.json that names its
        // submitter (recovery would take the daemon's user for the submitter):
        // a fresh claim is sealed after the supervisor's commit (``seal(_:)``);
        // recovery, whose state.json was there already, seals it here.
        var unsealed: [UInt8]? = nil
        if let bytes {
            if stored == nil { unsealed = bytes } else { try writeAtomically(dir, "job.json", bytes, gid: gid, label: "active/\(id)") }
        } else {
            try setOwner(fd, gid: gid, mode: 0o640, label: "active/\(id)/job.json")
        }
        try checkpoint(.claimFileOwned)
        // The submitter's group may look in only once job.json is the daemon's:
        // until the seal the directory stays 0700, so the file (still the
        // submitter's) cannot be reached through it.
        try setOwner(dir, gid: gid, mode: unsealed == nil ? 0o750 : 0o700, label: "active/\(id)")
        return .claimed(ClaimedJob(id: id, job: job, owner: account, runAs: runAs, state: state, unsealedJobFile: unsealed,
                                   stateWritten: stored != nil || !deferringState))
    }

    /// Deletes `rejected/ID/job.json`, an entry that was not a regular file
    /// with one link, and whatever is inside it, without following a link.
    /// Best effort: what cannot be deleted stays (never followed, never read)
    /// until retention removes the directory.
    func removeRejectedEntry(id: String) {
        guard case .success(let dir) = SystemCall.call({
            openat(fd(.rejected), id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }) else { return }
        defer { SystemCall.close(dir) }
        try? Self.removeTree(dir, Array("job.json".utf8), depth: 0)
    }

    /// Replaces the submitter's `job.json` of a claimed job with the daemon's
    /// copy of the bytes read at the claim, after the ``commit()`` that made
    /// its `state.json` durable (see ``examine``). Durable at the next commit.
    public func seal(_ job: ClaimedJob) throws(SpoolError) {
        guard let bytes = job.unsealedJobFile else { return }
        let label = "active/\(job.id)"
        let dir = try SystemCall.sys("open \(label)", code: .recordWrite) {
            openat(fd(.active), job.id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        defer { SystemCall.close(dir) }
        try writeAtomically(dir, "job.json", bytes, gid: job.state.gid, label: label)
        try setOwner(dir, gid: job.state.gid, mode: 0o750, label: label)
    }

    /// Why a job file's `fstat` fails SPEC §8, or `nil` when it passes.
    static func unsafeFile(_ st: stat) -> String? {
        if let kind = nonRegularKind(st) { return "the file is \(kind)" }
        if st.st_nlink != 1 { return "the file has \(st.st_nlink) links (a hard link)" }
        if st.st_mode & 0o022 != 0 { return "the file is writable by group or others" }
        if st.st_size > JobFileValidator.maxFileSize { return "the file is larger than 1 MiB" }
        return nil
    }

    /// What an entry is when it is not a regular file (`a directory`, `a FIFO`…), or `nil`.
    static func nonRegularKind(_ st: stat) -> String? {
        switch st.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }

    /// Reads at most 1 MiB + 1 byte: one more than a job file may have, so a
    /// larger file is told apart without reading it all.
    static func readBounded(_ fd: Int32, label: String) throws(SpoolError) -> [UInt8] {
        switch SystemCall.readAll(fd, limit: JobFileValidator.maxFileSize + 1) {
        case .success(let bytes): return bytes
        case .failure(let e): throw SpoolError(.io, "read \(label)", errno: e.rawValue)
        }
    }
}
