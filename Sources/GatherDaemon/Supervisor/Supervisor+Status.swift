import Gather
import GatherJournal
import GatherSpool

extension Supervisor {
    // MARK: Stopping

    func shutdown() {
        switch state {
        case .stopping, .stopped: return
        case .starting, .running: break
        }
        state = .stopping
        let running = jobs.running.values
        journal.log(.daemonStopping(interrupted: running.count))
        _ = notifier.stopping(status: "stopping: \(running.count) job\(running.count == 1 ? "" : "s") interrupted")
        let grace = running.map(\.settings.killGrace).max() ?? .zero
        _ = notifier.extendTimeout(grace + .seconds(10))
        for job in running { job.control.cancel(.daemonStopping) }
        // Held by a failed commit: they go to the main loop cancelled, and end at once.
        try? releaseHeldStarts(force: true)
        if running.isEmpty { finishStopping() }
    }

    func finishStopping() {
        guard case .stopping = state else { fatalError("Supervisor.finishStopping: called in state \(state), not stopping") }
        endTurn()
        state = .stopped
        starts.finish()
    }

    /// `--exit-when-idle`: nothing claimable, queued, running or unwritten.
    func checkIdle() {
        guard configuration.exitWhenIdle, case .running = state, jobs.isEmpty, hooksPending == 0,
              unwritten.isEmpty, writeError == nil else { return }
        if let waiting = try? scanIncoming(), waiting.contains(where: { !spool.isLeftInPlace($0.bytes) }) {
            return
        }
        endTurn()
        // The last turn's commit or moves failed: not idle, its records wait for the retry.
        guard unwritten.isEmpty, writeError == nil else { return }
        state = .stopped
        starts.finish()
    }

    // MARK: Status

    /// A failed `state.json` write is a spool write error like a record's
    /// (SPEC §3): recovery would not know the job's process groups, so
    /// claiming pauses until the file can be written again.
    func checkProgressWrites() {
        for (id, job) in jobs.running {
            guard let error = job.progress.takeWriteError() else { continue }
            unwrittenProgress.insert(id)
            // Logged without the job's fields: the line names the file
            // (`active/ID/.state.json.tmp`), and the job's own entry is the one
            // of its record, should that fail too when it ends.
            pauseClaims(error.located, identity: nil)
        }
    }

    var statusLine: String {
        if let writeError { return "spool write error: \(writeError); claiming paused" }
        let running = jobs.running.values
        let tasks = running.reduce(0) { $0 + $1.progress.runningProcesses }
        return (claimsPaused ? "paused: " : "")
            + "\(running.count) job\(running.count == 1 ? "" : "s") running (\(tasks) task\(tasks == 1 ? "" : "s")), "
            + "\(counts.done) done, \(counts.failed) failed, \(counts.rejected) rejected"
    }

    /// Sends `STATUS=` when the line changed: after every supervisor event, and
    /// once a second from the daemon while jobs run, as tasks start and end without one.
    func updateStatus() {
        checkProgressWrites()
        publishMetrics()
        let line = statusLine
        guard line != lastStatus else { return }
        lastStatus = line
        _ = notifier.status(line)
    }

    /// The supervisor's part of the metrics (SPEC §9); the writer wakes only if one changed.
    func publishMetrics() {
        let (counts, running, queued, paused, writeError) = (counts, jobs.running.count, jobs.waitingCount, claimsPaused, isPaused)
        metrics.update { values in
            values.jobs = counts.byState
            values.lastFailure = counts.lastFailure
            values.jobsRunning = running
            values.jobsQueued = queued
            values.paused = paused
            values.spoolWriteErrorNow = writeError
        }
    }
}
