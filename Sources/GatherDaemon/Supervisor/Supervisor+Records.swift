import Gather
import GatherJournal
import GatherSpool

extension Supervisor {
    // MARK: Records

    /// Writes a job's record in `active/ID/`; the turn's commit makes it
    /// durable and then moves it (``endTurn()``).
    func write(_ record: JobRecord, identity: JobIdentity) {
        do {
            if try spool.writeRecord(record) {
                turn.records.append((record, identity))
            } else {
                counts.count(record.state)  // moved by an earlier try
                recordGates.removeValue(forKey: record.id)?.open()
            }
            turn.wrote = true
        } catch {
            unwritten[record.id] = (record, identity)
            pauseClaims(error.reason, identity: identity)
        }
    }

    /// A claim, rejection or recovery failed: claiming pauses. A rejection whose
    /// record could not be written is logged now and kept with the other
    /// unwritten records (counted once written): recovery must not take the
    /// file up again as a job to run.
    func claimFailed(_ error: SpoolError) {
        guard let record = error.record else {
            pauseClaims(error.located, identity: nil)
            return
        }
        let identity = logRejected(record, counting: false)
        unwritten[record.id] = (record, identity)
        pauseClaims(error.reason, identity: identity)
    }


    func pauseClaims(_ reason: String, identity: JobIdentity?) {
        let first = writeError == nil
        writeError = reason
        metrics.update { $0.spoolWriteErrors += 1 }
        retryWakeup.yield()
        if first || identity != nil {
            journal.log(.spoolWriteError(identity, error: reason))
        }
        updateStatus()
    }

    func retryUnwritten() {
        // A state.json that failed since the last look must hold claiming too.
        checkProgressWrites()
        guard writeError != nil else { return }
        do throws(SpoolError) {
            try releaseHeldStarts()
        } catch {
            writeError = error.located
            metrics.update { $0.spoolWriteErrors += 1 }
            updateStatus()
            return
        }
        for id in unwrittenProgress.sorted() {
            do {
                try jobs.running[id]?.progress.retryWrite()
                unwrittenProgress.remove(id)
            } catch {
                writeError = error.located
                metrics.update { $0.spoolWriteErrors += 1 }
                updateStatus()
                return
            }
        }
        for (id, pending) in unwritten.sorted(by: { $0.key < $1.key }) {
            do {
                try spool.finish(pending.record)
                unwritten[id] = nil
                counts.count(pending.record.state)
                recordGates.removeValue(forKey: id)?.open()
            } catch {
                writeError = error.reason
                metrics.update { $0.spoolWriteErrors += 1 }
                updateStatus()
                return
            }
        }
        // Every record is on disk: claim again, and pick up what arrived meanwhile.
        writeError = nil
        if case .running = state {
            _ = recoverActive(skipping: jobs.ids)
            rescan()
        } else if case .stopping = state, jobs.running.isEmpty { finishStopping() }
        updateStatus()
    }

    @discardableResult
    func logRejected(_ record: JobRecord, counting: Bool = true) -> JobIdentity {
        if counting { counts.count(.rejected) }
        let identity = JobIdentity(id: record.id, run: record.run, name: record.name, uid: record.uid)
        journal.log(.jobRejected(identity, file: record.file, errors: [record.error ?? "invalid job file"]))
        return identity
    }
}
