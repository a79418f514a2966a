import GatherSystem
import CLinux
import GatherSpool
#if canImport(Glibc)
import Glibc
#endif

/// `gatherctl submit [--wait] [--id ID] FILE...` (SPEC §10).
///
/// All or nothing: every file is validated first; then every file is written
/// to a temporary `.ID.tmp` in `incoming/`; only when all are written are they
/// renamed to `ID.json` (`renameat2` with no-replace, so a file someone else
/// dropped under the same name at the same moment is never overwritten).
struct SubmitCommand {
    let files: [String]
    let id: String?
    let wait: Bool
    let spool: SpoolFiles
    let json: Bool

    /// A file written to its temporary name, waiting for its rename.
    private struct Staged {
        let temporary: String
        /// The ID the file asked for; a collision picks `stem-XXXXXXXX`.
        let stem: String
        var id: String
    }

    func run(_ console: Console) throws(CtlError) -> CtlExit {
        try spool.requireExists()
        let checked = try JobFileCheck(spool: spool).check(files)
        let invalid = checked.filter { !$0.isValid }
        guard invalid.isEmpty else {
            JobFileCheck.report(checked, console: console)
            console.error("gatherctl: nothing submitted: \(invalid.count) of \(checked.count) files have errors")
            return .failed
        }
        let incoming = spool.area(.incoming)
        var reserved: Set<String> = []
        var staged: [Staged] = []
        do throws(CtlError) {
            for file in checked {
                let stem = id ?? Self.stem(of: file.path)
                var id = try freeID(stem: stem, reserved: reserved)
                reserved.insert(id)
                // Another gatherctl may be staging the same ID right now: take the next.
                while try !Self.writeTemporary(incoming, ".\(id).tmp", file.bytes) {
                    id = try freeID(stem: stem, reserved: reserved)
                    reserved.insert(id)
                }
                staged.append(Staged(temporary: ".\(id).tmp", stem: stem, id: id))
            }
        } catch {
            for file in staged { _ = unlink("\(incoming)/\(file.temporary)") }
            throw error
        }
        var submitted: [String] = []
        for index in staged.indices {
            do throws(CtlError) {
                staged[index].id = try rename(staged[index], reserved: &reserved)
                submitted.append(staged[index].id)
            } catch {
                for file in staged[index...] { _ = unlink("\(incoming)/\(file.temporary)") }
                if !submitted.isEmpty { console.error("gatherctl: submitted before the error: \(submitted.joined(separator: " "))") }
                throw error
            }
        }
        if !wait, !spool.daemonPresence().isServing {
            // Not an error (the next daemon claims them), but not what a user expects either.
            console.error("gatherctl: no gatherd serves \(spool.path) now: \(submitted.count == 1 ? "the job waits" : "the jobs wait") in incoming/ until one starts")
        }
        if wait {
            if !json { for id in submitted { console.line(id) } }
            return JobWaiter(spool: spool, json: json).wait(for: submitted, console: console)
        }
        console.line(json ? JSONValue.array(submitted.map(JSONValue.string)).serialized() : submitted.joined(separator: "\n"))
        return .success
    }

    /// The ID a file asks for: its name without a `.json` ending (`stdin`
    /// for `-`), made a valid ID the way the daemon would (SPEC §3).
    static func stem(of path: String) -> String {
        if path == "-" { return "stdin" }
        var name = String(path.split(separator: "/", omittingEmptySubsequences: true).last ?? "job")
        if name.hasSuffix(".json"), name.count > 5 { name.removeLast(5) }
        return JobIDText.isValid(name) ? name : JobID.sanitized(Array(name.utf8))
    }

    /// Whether `id` is unused in `incoming/` and in every job area.
    private func isFree(_ id: String) -> Bool {
        !spool.contains("\(id).json", in: .incoming) && !spool.contains(".\(id).tmp", in: .incoming)
            && ![.active, .done, .failed, .rejected].contains { spool.contains(id, in: $0) }
    }

    /// The stem when it is free, else the stem plus `-` and 8 random hex digits.
    private func freeID(stem: String, reserved: Set<String>) throws(CtlError) -> String {
        if !reserved.contains(stem), isFree(stem) { return stem }
        // 2^32 suffixes: a hundred taken in a row means something else is wrong.
        for _ in 0..<100 {
            let id = Self.randomized(stem)
            if !reserved.contains(id), isFree(id) { return id }
        }
        throw CtlError(.error, "no free job ID for \(stem) in \(spool.path)")
    }

    /// `stem-XXXXXXXX`, the stem shortened so the ID stays within 100 bytes.
    static func randomized(_ stem: String) -> String {
        let hex = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let suffix = "-" + String(repeating: "0", count: 8 - hex.count) + hex
        return String(decoding: Array(stem.utf8).prefix(100 - suffix.utf8.count), as: UTF8.self) + suffix
    }

    /// Renames the temporary file to `ID.json` without replacing anything;
    /// when another file took the name meanwhile, a random suffix is tried.
    private func rename(_ file: Staged, reserved: inout Set<String>) throws(CtlError) -> String {
        let incoming = spool.area(.incoming)
        var id = file.id
        for _ in 0..<100 {
            switch SystemCall.call({ clinux_rename_noreplace(AT_FDCWD, "\(incoming)/\(file.temporary)", AT_FDCWD, "\(incoming)/\(id).json") }) {
            case .success: return id
            case .failure(let errno) where errno == EEXIST: break
            case .failure(let errno): throw CtlError(.error, "cannot rename \(incoming)/\(file.temporary): \(errno)")
            }
            id = try freeID(stem: file.stem, reserved: reserved)
            reserved.insert(id)
        }
        throw CtlError(.error, "no free name in \(incoming) for \(file.id)")
    }

    /// Writes `bytes` to a new `dir/name` (0644: the daemon refuses files
    /// writable by group or others) and fsyncs it, so a crash cannot leave a
    /// renamed but empty job file. On failure the file is removed again.
    /// - Returns: `false` when `name` exists already (nothing was written).
    @discardableResult
    static func writeTemporary(_ dir: String, _ name: String, _ bytes: [UInt8]) throws(CtlError) -> Bool {
        let path = "\(dir)/\(name)"
        func failure(_ what: String, _ errno: Errno) -> CtlError {
            CtlError(.error, "cannot \(what) \(path): \(errno)")
        }
        let fd: Int32
        switch SystemCall.call({ open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644) }) {
        case .success(let value): fd = value
        case .failure(let errno) where errno == EEXIST: return false
        case .failure(let errno): throw failure("create", errno)
        }
        defer { SystemCall.close(fd) }
        do throws(CtlError) {
            if case .failure(let errno) = SystemCall.call({ fchmod(fd, 0o644) }) { throw failure("chmod", errno) }
            if let errno = SystemCall.writeAll(fd, bytes) { throw failure("write", errno) }
            if case .failure(let errno) = SystemCall.call({ fsync(fd) }) { throw failure("fsync", errno) }
        } catch {
            _ = unlink(path)
            throw error
        }
        return true
    }
}
