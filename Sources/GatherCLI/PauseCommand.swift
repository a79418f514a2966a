import GatherSpool
import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// `gatherctl pause` / `resume` (SPEC §3, §10): create or remove the spool's
/// `paused` file. Only the daemon's user (the spool's owner) or root may:
/// the spool directory is writable by no one else. gatherd sees the change
/// at once (it watches the directory) and says so in the journal.
struct PauseCommand {
    let pause: Bool
    let spool: SpoolFiles

    func run(_ console: Console) throws(CtlError) -> CtlExit {
        try spool.requireExists()
        let owner = spool.daemonUID
        guard getuid() == 0 || getuid() == owner else {
            throw CtlError(.failed, "only root or the spool's owner (uid \(owner)) may \(pause ? "pause" : "resume") gatherd")
        }
        let path = spool.path + "/" + SpoolDirectory.pauseFile
        if pause {
            switch SystemCall.call({ open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644) }) {
            case .success(let fd):
                SystemCall.close(fd)
                let waiting = (try? spool.ids(in: .incoming))?.count ?? 0
                console.line("paused: gatherd claims no new job until \"gatherctl resume\" (running and queued jobs go on; \(waiting) file\(waiting == 1 ? "" : "s") in incoming/)")
            case .failure(let e) where e == EEXIST:
                console.line("already paused (\(path) exists)")
            case .failure(let e):
                throw CtlError(.error, "cannot create \(path): \(e)")
            }
        } else {
            switch SystemCall.call({ unlink(path) }) {
            case .success:
                console.line("resumed: gatherd claims new jobs again")
            case .failure(let e) where e == ENOENT:
                console.line("not paused")
            case .failure(let e):
                throw CtlError(.error, "cannot remove \(path): \(e)")
            }
        }
        return .success
    }
}
