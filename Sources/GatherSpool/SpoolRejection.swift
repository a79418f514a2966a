import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

extension SpoolDirectory {
    /// Rejects a claimed job without running it (e.g. "queue full", SPEC §8):
    /// writes its `rejected` record and moves it to `rejected/`.
    /// - Throws: ``SpoolError`` (``SpoolError/Code/recordWrite``: retry later).
    @discardableResult
    public func reject(_ job: ClaimedJob, reason: String) throws(SpoolError) -> JobRecord {
        let s = job.state
        let record = JobRecord(id: job.id, name: s.name, file: s.file, state: .rejected, policy: job.job.policy,
                               uid: s.uid, gid: s.gid, user: s.user, runAs: nil, receivedAt: s.receivedAt,
                               startedAt: nil, error: reason, tasks: [])
        // Not sealed yet: the submitter's file is handed to the daemon before
        // its directory opens to the submitter's group in rejected/.
        if job.unsealedJobFile != nil, case .success(let dir) = SystemCall.call({
            openat(fd(.active), job.id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }) {
            defer { SystemCall.close(dir) }
            if case .success(let file) = SystemCall.call({ openat(dir, "job.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }) {
                _ = try? setOwner(file, gid: s.gid, mode: 0o640, label: "active/\(job.id)/job.json")
                SystemCall.close(file)
            }
        }
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
