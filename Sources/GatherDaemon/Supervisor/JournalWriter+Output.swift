import GatherJournal
import GatherProcess
import GatherSystem
import Synchronization

extension JournalWriter {
    /// For each attempt of a task (or a hook, labelled like a task named after
    /// it), a handler that sends its output lines to the journal as the
    /// task's (`ID/TASK[pid]`), blocking when the journal queue is full:
    /// back-pressure on the pipes.
    ///
    /// The fields every line of the attempt shares are made at its first line
    /// on each stream (and again only if the PID changes), not per line.
    func outputHandlers(task: String, identity: JobIdentity) -> @Sendable (Int) -> ProcessOutputHandler? {
        { attempt in
            let made = Mutex<[TaskOutputFields]>([])
            let handler: ProcessOutputHandler = { [self] stream, pid, line in
                let fields = made.withLock { made in
                    if let found = made.first(where: { $0.source.stream == stream && $0.source.pid == pid }) { return found }
                    let new = TaskOutputFields(
                        TaskOutputSource(job: identity, task: task, attempt: attempt, stream: stream, pid: pid))
                    // At most one per stream: a new PID replaces the old one's.
                    made.removeAll { $0.source.stream == stream }
                    made.append(new)
                    return new
                }
                logOutput(line, fields: fields)
            }
            return handler
        }
    }
}
