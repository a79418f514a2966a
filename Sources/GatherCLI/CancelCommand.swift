import GatherSystem
import CLinux
import GatherSpool
#if canImport(Glibc)
import Glibc
#endif

/// `gatherctl cancel ID [--wait]`: creates the empty file `cancel/ID` as a
/// dotfile renamed into place, so the daemon never sees a half-made request.
/// The daemon honours it for the job's submitter or root (SPEC §8), so
/// gatherctl refuses the rest itself (SPEC §10, exit 1) rather than leave a
/// request the daemon only refuses in the journal.
struct CancelCommand {
    let id: String
    let wait: Bool
    let spool: SpoolFiles
    let json: Bool

    func run(_ console: Console) throws(CtlError) -> CtlExit {
        try spool.requireExists()
        if let found = try spool.finishedIfReadable(id) {
            console.error("gatherctl: job \(id) already finished: \(found.record.value.state.rawValue)")
            guard wait else { return .failed }
            return JobWaiter(spool: spool, json: json).wait(for: [id], console: console)
        }
        guard spool.contains(id, in: .active) || spool.contains("\(id).json", in: .incoming) else {
            // A job another user keeps from the caller's sight is the same as none (SPEC §10).
            throw CtlError(.failed, "no job \(id)\(geteuid() == 0 ? "" : " of yours") waiting or running in \(spool.path)")
        }
        try checkSubmitter()
        let cancel = spool.area(.cancel)
        let temporary = ".\(id).\(SubmitCommand.randomized("x").dropFirst(2)).tmp"
        guard try SubmitCommand.writeTemporary(cancel, temporary, []) else {
            throw CtlError(.error, "cannot create \(cancel)/\(temporary): it exists already")
        }
        if case .failure(let errno) = SystemCall.call({ clinux_rename_noreplace(AT_FDCWD, "\(cancel)/\(temporary)", AT_FDCWD, "\(cancel)/\(id)") }) {
            _ = unlink("\(cancel)/\(temporary)")
            // EEXIST: a request is already waiting for the daemon; this one adds nothing.
            guard errno == EEXIST else {
                throw CtlError(.error, "cannot create \(cancel)/\(id): \(errno)")
            }
        }
        if !json { console.line("cancel requested: \(id)") }
        if !spool.daemonPresence().isServing {
            console.error("gatherctl: no gatherd serves \(spool.path) now: the request waits in cancel/ for the next one")
        }
        guard wait else {
            if json { console.line(JSONValue.object([("id", .string(id)), ("requested", .bool(true))]).serialized()) }
            return .success
        }
        return JobWaiter(spool: spool, json: json).wait(for: [id], console: console)
    }

    /// Fails unless the caller submitted the job or is root: the submitter is
    /// the owner of the file in `incoming/`, or the `uid` in `state.json`.
    private func checkSubmitter() throws(CtlError) {
        let caller = geteuid()
        guard caller != 0 else { return }
        // A job claimed this very moment is in active/ (mode 0700) for a few
        // milliseconds before its state.json opens it to its submitter.
        var submitter = spool.submitter(of: id)
        if submitter == nil, spool.contains(id, in: .active) {
            usleep(100_000)
            submitter = spool.submitter(of: id)
        }
        guard let submitter else {
            // Another user's job directory (mode 0750), or a claim not yet recorded.
            throw CtlError(.failed, "no job \(id) of yours waiting or running in \(spool.path)")
        }
        guard submitter == caller else {
            let name = UserAccount.cached(uid: submitter).map { " (\($0.name))" } ?? ""
            throw CtlError(.failed, "job \(id) was submitted by uid \(submitter)\(name), not by you (uid \(caller)): "
                           + "only its submitter or root may cancel it")
        }
    }
}
