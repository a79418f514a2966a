import GatherJournal
import GatherSpool

/// What one supervisor turn wrote to the spool and must make durable before
/// it has effects: claims whose `job.json` waits to be sealed, records whose
/// job directory waits to move, starts whose first process waits to run.
struct Turn: Sendable {
    /// Something was written (a claim, a start, a record).
    var wrote = false
    /// Claimed jobs whose submitter's `job.json` is replaced by the daemon's
    /// copy once their `state.json` is durable (``SpoolDirectory/seal(_:)``).
    var unsealed: [ClaimedJob] = []
    /// Records written in `active/ID/`, moved once durable.
    var records: [(record: JobRecord, identity: JobIdentity)] = []
    /// Jobs marked started, handed to the main loop once durable.
    var starts: [JobStart] = []
}

extension Supervisor {
    // MARK: The group commit

    /// Ends a turn: one ``SpoolDirectory/commit()`` makes what it wrote
    /// durable, then the started jobs go to the main loop (whose first `exec`
    /// therefore always follows the commit), the claims are sealed and the
    /// records' directories move to `done/`, `failed/` or `rejected/`
    /// (docs/state-json.md, "Durability": a power loss never makes a started
    /// job look never started, so it never runs twice).
    ///
    /// A failed commit is a spool write error (claiming pauses): the records
    /// stay unwritten for the retry, the claims unsealed (the submitter's file
    /// stays in place, as recovery expects without a durable `state.json`),
    /// and the started jobs are held: none runs before a later sync of the
    /// whole spool succeeds (``releaseHeldStarts()``, from the retry), so a
    /// power loss can still never make one run twice.
    func endTurn() {
        guard turn.wrote else { return }
        var ended = turn
        turn = Turn()
        // The claims' state.json, deferred so that a job started in the same
        // turn writes one (markStarted's) rather than two: jobs still waiting
        // get theirs now, before the commit (a claim whose file cannot be
        // written is not sealed; its start writes the file later).
        ended.unsealed = ended.unsealed.filter { job in
            guard !job.stateWritten, jobs.isWaiting(job.id) else { return true }
            do throws(SpoolError) {
                try spool.writeState(job.state)
                return true
            } catch {
                pauseClaims(error.located, identity: nil)
                return false
            }
        }
        do {
            try spool.commit()
        } catch {
            pauseClaims(error.located, identity: nil)
            for (record, identity) in ended.records { unwritten[record.id] = (record, identity) }
            heldStarts += ended.starts
            return
        }
        // The starts first: nothing else here has to come before their exec.
        if !ended.starts.isEmpty {
            for start in ended.starts { starts.yield(.job(start)) }
            busyWakeup.yield()
        }
        for job in ended.unsealed {
            do { try spool.seal(job) } catch { pauseClaims(error.located, identity: nil) }
        }
        for (record, identity) in ended.records {
            do {
                try spool.moveFinished(record)
                counts.count(record.state)
                recordGates.removeValue(forKey: record.id)?.open()
            } catch {
                unwritten[record.id] = (record, identity)
                pauseClaims(error.reason, identity: identity)
            }
        }
        // The seals and moves wait for the next commit; none is needed before it.
        updateStatus()
    }
}

extension Supervisor {
    /// Runs the starts a failed commit held, once a sync of the whole spool
    /// succeeds (what they wrote is then durable). At shutdown they go to the
    /// main loop anyway: their control is cancelled, so no task runs.
    /// - Throws: the sync's error; they stay held.
    func releaseHeldStarts(force: Bool = false) throws(SpoolError) {
        guard !heldStarts.isEmpty else { return }
        if !force { try spool.commitAll() }
        let held = heldStarts
        heldStarts = []
        for start in held { starts.yield(.job(start)) }
        busyWakeup.yield()
    }
}

/// What waits for the supervisor's next turn (``Supervisor/post(_:)``).
enum SupervisorEvent: Sendable {
    /// A spool event from the watcher.
    case spool(SpoolEvent)
    /// A job run ended (the main loop's child task reports it).
    case jobEnded(id: String, JobRunEnd)
    /// The hooks of an ended job ended (or will not run).
    case hooksEnded(id: String)
}

/// Events waiting for the supervisor.
struct Inbox: Sendable {
    var events: [SupervisorEvent] = []
    /// When the first of `events` was posted.
    var since = ContinuousClock.now
}
