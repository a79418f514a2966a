import GatherJournal
import GatherProcess

extension JournalWriter {
    /// For each attempt of a task (or a hook, labelled like a task named after
    /// it), a handler that sends its output lines to the journal as the
    /// task's (`ID/TASK[pid]`), blocking when the journal queue is full:
    /// back-pressure on the pipes.
    func outputHandlers(task: String, identity: JobIdentity) -> @Sendable (Int) -> ProcessOutputHandler? {
        { attempt in
            let handler: ProcessOutputHandler = { [self] stream, pid, line in
                logOutput(line, from: TaskOutputSource(job: identity, task: task, attempt: attempt, stream: stream, pid: pid))
            }
            return handler
        }
    }
}
