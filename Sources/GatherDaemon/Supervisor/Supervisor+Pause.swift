import GatherJournal

extension Supervisor {
    /// What a look at the `paused` file found.
    enum PauseChange {
        case unchanged, paused, resumed
    }

    /// Looks at the spool's `paused` file (SPEC §3; the watcher reports each
    /// change, the first scan looks at start) and, when it changed, says so
    /// in the journal ("claiming paused: N files wait in incoming/" /
    /// "claiming resumed") and in `STATUS=`. While it exists no file is
    /// claimed; running and queued jobs go on.
    func checkPause() -> PauseChange {
        let present = spool.pauseRequested
        guard present != claimsPaused else { return .unchanged }
        claimsPaused = present
        if present {
            let waiting = (try? scanIncoming())?.filter { !spool.isLeftInPlace($0.bytes) }.count ?? 0
            journal.log(.claimingPaused(waiting: waiting))
        } else {
            journal.log(.claimingResumed())
        }
        updateStatus()
        return present ? .paused : .resumed
    }
}
