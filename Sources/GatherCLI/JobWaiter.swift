import GatherSpool
import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// Follows jobs until their records exist (`submit --wait`, `cancel --wait`),
/// prints each outcome as it arrives and returns the combined exit code.
///
/// It looks again whenever a job directory is renamed into `done/`,
/// `failed/` or `rejected/` (inotify), and at least every 100 ms in case the
/// watches could not be set (and to refresh the progress line). Each time it
/// also looks whether a gatherd still holds the spool (SPEC §10): when none
/// has for ``absenceGrace`` it says so on stderr, and then keeps waiting on a
/// terminal (saying so in the progress line) or returns exit 2 at once.
struct JobWaiter {
    let spool: SpoolFiles
    let json: Bool
    var interval: Duration = .milliseconds(100)

    /// How long no daemon must hold the spool, once one did during the
    /// wait, before the wait says it went away (SPEC §10 says so at once
    /// when none holds it at the start): a daemon a moment from taking its lock (it opens the spool first, and
    /// retries a lock still held for up to 2 s) is not "gone". A daemon
    /// systemd restarts after a crash (`RestartSec=2s` in the unit) is: a
    /// script learns of the crash, a terminal wait goes on through it.
    static let absenceGrace: Duration = .seconds(1)

    func wait(for ids: [String], console: Console) -> CtlExit {
        var pending = ids
        var records: [String: JSONValue] = [:]
        var codes: [CtlExit] = []
        var progressShown = false
        var absentSince: ContinuousClock.Instant?
        var toldAbsent = false
        var firstLook = true
        console.flush()  // the IDs, before a wait that may be long
        let wake = FinishWatch(spool: spool)
        func clearProgress() {
            if progressShown { console.raw("\r\u{1B}[K"); progressShown = false }
        }
        while !pending.isEmpty {
            // Looked at before the records: a daemon that wrote them and
            // exited (--exit-when-idle) let go of its lock only after.
            let presence = spool.daemonPresence()
            var stillPending: [String] = []
            for id in pending {
                let found: SpoolReader.Finished?
                do { found = try spool.finished(id) } catch {
                    // The record is there but unreadable: that job is a system error.
                    clearProgress()
                    console.error("gatherctl: \(error)")
                    codes.append(.error)
                    continue
                }
                guard let found else { stillPending.append(id); continue }
                let view = RecordView(record: found.record.value)
                records[id] = found.record.json
                codes.append(CtlExit(jobState: view.state))
                if !json {
                    clearProgress()
                    console.line(view.outcomeLine)
                    console.flush()
                }
            }
            pending = stillPending
            guard !pending.isEmpty else { break }
            if presence.isServing {
                if toldAbsent {
                    clearProgress()
                    console.error("gatherctl: a gatherd serves \(spool.path) again")
                }
                absentSince = nil
                toldAbsent = false
            } else {
                let now = ContinuousClock.now
                let since = absentSince ?? now
                absentSince = since
                if !toldAbsent, firstLook || now - since >= Self.absenceGrace {
                    clearProgress()
                    console.error("gatherctl: " + absenceText(pending))
                    toldAbsent = true
                    // SPEC §10: on a terminal the wait goes on; a script gets exit 2 at once.
                    guard console.isTerminal else {
                        codes.append(.error)
                        break
                    }
                }
            }
            if console.isTerminal && !json {
                console.raw("\r\u{1B}[K" + (toldAbsent ? "no gatherd; " : "") + progress(pending))
                progressShown = true
            }
            firstLook = false
            wake.wait(atMost: interval)
        }
        clearProgress()
        if json { console.line(JSONValue.array(ids.compactMap { records[$0] }).serialized()) }
        return CtlExit.worst(codes)
    }

    /// What the jobs still waited for become now that no daemon holds the
    /// spool: `no gatherd serves /spool (none holds its lock): job a waits
    /// in incoming/ for the next gatherd; job b was claimed (running), the
    /// next gatherd recovers it`.
    private func absenceText(_ pending: [String]) -> String {
        let parts = pending.prefix(3).map { id -> String in
            if spool.contains("\(id).json", in: .incoming) { return "job \(id) waits in incoming/ for the next gatherd" }
            if let state = spool.state(id)?.value {
                return "job \(id) was claimed (\(state.phase.rawValue)), the next gatherd recovers it"
            }
            return "job \(id) was claimed, the next gatherd recovers it"
        }
        let more = pending.count > 3 ? "; and \(pending.count - 3) more" : ""
        return "no gatherd serves \(spool.path) (no process holds its lock): " + parts.joined(separator: "; ") + more
    }

    /// `waiting for 2 jobs: a running 1/3 done, b queued`, one terminal line.
    private func progress(_ pending: [String]) -> String {
        let parts = pending.prefix(3).map { id -> String in
            guard let state = spool.state(id)?.value else {
                return spool.contains("\(id).json", in: .incoming) ? "\(id) waiting" : "\(id) claimed"
            }
            let ended = state.tasks.filter { $0.status.outcome != nil }.count
            return "\(id) \(state.phase.rawValue) \(ended)/\(state.tasks.count) done"
        }
        let more = pending.count > 3 ? ", …" : ""
        let line = "waiting for \(pending.count) job\(pending.count == 1 ? "" : "s"): " + parts.joined(separator: ", ") + more
        // One line even on an 80-column terminal: "\r" can only erase the line it is on.
        return line.count > 79 ? String(line.prefix(78)) + "…" : line
    }

}

/// inotify watches on the finished-job areas: a job directory renamed into
/// one of them (`IN_MOVED_TO`) ends a wait at once instead of at the next poll.
final class FinishWatch {
    private let fd: Int32

    init(spool: SpoolFiles) {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return }
        for area in SpoolReader.finishedAreas {
            // A missing or unreadable area leaves only the poll: no harm.
            _ = inotify_add_watch(fd, spool.area(area), UInt32(IN_MOVED_TO | IN_CREATE))
        }
    }

    deinit { SystemCall.close(fd) }

    /// Returns after an event or after `limit`, whichever comes first.
    func wait(atMost limit: Duration) {
        let milliseconds = Int32(limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000)
        guard fd >= 0 else {
            usleep(UInt32(milliseconds) * 1000)
            return
        }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard case .success(let ready) = SystemCall.call({ poll(&entry, 1, milliseconds) }), ready > 0 else { return }
        // Drain: which entry arrived does not matter, every job is looked at again.
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case .success(let n) = buffer.withUnsafeMutableBytes({ raw in SystemCall.call { read(fd, raw.baseAddress, raw.count) } }),
              n > 0 {}
    }
}
