import GatherSystem
import CLinux
import GatherSpool
#if canImport(Glibc)
import Glibc
#endif

/// `gatherctl cancel ID [--wait]`: creates the empty file `cancel/ID` as a
/// dotfile renamed into place, so the daemon never sees a half-made request.
/// The daemon honours it for the job's submitter or root (SPEC §8).
struct CancelCommand {
    let id: String
    let wait: Bool
    let spool: SpoolFiles
    let json: Bool

    func run(_ console: Console) throws(CtlError) -> CtlExit {
        try spool.requireExists()
        if let found = try spool.finished(id) {
            console.error("gatherctl: job \(id) already finished: \(found.record.value.state.rawValue)")
            guard wait else { return .failed }
            return JobWaiter(spool: spool, json: json).wait(for: [id], console: console)
        }
        guard spool.contains(id, in: .active) || spool.contains("\(id).json", in: .incoming) else {
            throw CtlError(.failed, "no job \(id) waiting or running in \(spool.path)")
        }
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
        guard wait else {
            if json { console.line(JSONValue.object([("id", .string(id)), ("requested", .bool(true))]).serialized()) }
            return .success
        }
        return JobWaiter(spool: spool, json: json).wait(for: [id], console: console)
    }
}
