// A helper the GatherSpool tests run in a private mount namespace, on a small
// tmpfs they mount there: `gather-spool-helper fulldisk DIR`. It fills the
// file system, shows that writing a record fails cleanly with ENOSPC and that
// nothing is lost, frees space, and shows that the retry succeeds. Each line
// it prints is `key: value`; it exits 0 only when every step went as expected.
import Gather
import GatherSpool
#if canImport(Glibc)
import Glibc
#endif

func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

func exists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

func fullDisk(_ dir: String) -> Bool {
    do {
        let spool = try SpoolDirectory(path: "\(dir)/spool")
        let job = #"{"name":"full","tasks":[{"name":"a","command":["/bin/true"]}]}"#
        let fd = open("\(dir)/spool/incoming/full.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { say("setup: cannot create the job file"); return false }
        _ = Array(job.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard case .claimed(let claimed) = try spool.claim("full.json") else { say("claim: not claimed"); return false }
        say("claim: \(claimed.id)")
        // Fill the file system to the last byte.
        let filler = open("\(dir)/filler", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        let chunk = [UInt8](repeating: 0x41, count: 4096)
        var filled = 0
        while true {
            let n = chunk.withUnsafeBytes { write(filler, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            filled += n
        }
        // Smaller writes take up a last partial page.
        while chunk.withUnsafeBytes({ write(filler, $0.baseAddress, 1) }) > 0 { filled += 1 }
        close(filler)
        say("filled: \(filled)")
        let record = JobRecord(id: claimed.id, name: "full", file: "full.json", state: .succeeded, policy: .collectAll,
                               uid: claimed.state.uid, gid: claimed.state.gid, user: claimed.state.user,
                               runAs: claimed.runAs.name, receivedAt: claimed.state.receivedAt, startedAt: .now(),
                               error: nil, tasks: [.init(name: "a", outcome: .succeeded, attempts: 1, startedAt: .now(), durationMS: 1)])
        var ok = true
        do {
            try spool.finish(record)
            say("first finish: succeeded (unexpected)")
            ok = false
        } catch {
            say("first finish: \(error)")
            say("retryable: \(error.isRetryable)")
            say("errno: \(error.errno?.rawValue ?? 0)")
            ok = ok && error.isRetryable && error.errno?.rawValue == ENOSPC
        }
        let base = "\(dir)/spool/active/\(claimed.id)"
        let kept = exists("\(base)/job.json") && exists("\(base)/state.json")
        let noRecord = !exists("\(base)/result.json") && !exists("\(base)/.result.json.tmp")
        say("still active: \(kept)")
        say("no partial record: \(noRecord)")
        ok = ok && kept && noRecord
        unlink("\(dir)/filler")
        try spool.finish(record)
        let done = exists("\(dir)/spool/done/\(claimed.id)/result.json") && !exists(base)
        say("retry: \(done ? "recorded in done" : "missing")")
        return ok && done
    } catch {
        say("error: \(error)")
        return false
    }
}

let args = CommandLine.arguments
guard args.count == 3, args[1] == "fulldisk" else {
    say("usage: gather-spool-helper fulldisk DIR")
    exit(2)
}
exit(fullDisk(args[2]) ? 0 : 1)
