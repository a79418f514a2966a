import GatherJournal
import GatherSpool
import GatherSystem

/// Keeps `--metrics-file` current (SPEC §9): written at start, then after a
/// change, at most once a second; it sleeps while nothing changes.
struct MetricsWriter: Sendable {
    let metrics: Metrics
    let file: MetricsFile
    let spool: SpoolDirectory
    let journal: JournalWriter

    /// Writes now, then on every change, a second apart at least, until the
    /// task is cancelled or ``Metrics/finish()`` is called.
    func run() async {
        var failing: String?
        write(&failing)
        for await _ in metrics.changes {
            write(&failing)
            // Changes during the pause make one write after it.
            guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
        }
    }

    /// One write of the values now. A failure is logged when it starts (or
    /// its reason changes) and when it ends, not on every try.
    func write(_ failing: inout String?) {
        var values = metrics.values
        values.incomingFiles = waitingFiles()
        do {
            try file.write(MetricsText.render(values))
            if failing != nil {
                journal.log(.daemonNotice("the metrics file \(file.path) is written again"))
                failing = nil
            }
        } catch {
            let reason = "\(error)"
            if failing != reason {
                journal.log(.daemonNotice("cannot write the metrics file: \(reason)", warning: true))
                failing = reason
            }
        }
    }

    /// Claimable files in `incoming/`, less those a claim left in place
    /// (owned by someone who may not submit): listed here, at most once a
    /// second, rather than counted from the watcher's hints.
    private func waitingFiles() -> Int {
        var count = 0
        _ = spool.withDescriptor(of: .incoming) { fd in
            DirectoryListing.forEachName(in: fd) { _, name in
                if SpoolEntryName(bytes: name).isClaimableJobFile, !spool.isLeftInPlace(name) { count += 1 }
            }
        }
        return count
    }
}
