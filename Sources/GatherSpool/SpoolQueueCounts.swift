import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

extension SpoolDirectory {
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
            if let state = try? SpoolReader.readState(in: dir, label: "active/\(String(decoding: name, as: UTF8.self))").value {
                counts[state.uid, default: 0] += 1
            } else if case .success(let st) = SystemCall.lstat(Array("job.json".utf8), in: dir) {
                counts[st.st_uid, default: 0] += 1
            }
        }
        return counts
    }
}
