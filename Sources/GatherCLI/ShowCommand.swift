import GatherSpool

/// `gatherctl show ID`: the record, readable or as stored (`--json`). A job
/// still in `active/` has no record yet: its progress (`state.json`) is shown.
struct ShowCommand {
    let id: String
    let spool: SpoolFiles
    let json: Bool

    func run(_ console: Console) throws(CtlError) -> CtlExit {
        try spool.requireExists()
        if let found = try spool.finished(id) {
            if json {
                // As stored: byte for byte, so a script sees exactly what gatherd wrote.
                var text = String(decoding: found.record.bytes, as: UTF8.self)
                if text.hasSuffix("\n") { text.removeLast() }
                console.line(text)
            } else {
                RecordView(record: found.record.value).lines.forEach(console.line)
            }
            return .success
        }
        if let progress = spool.state(id) {
            if json {
                console.line(progress.json.serialized())
                return .success
            }
            let state = progress.value
            // As in status: a job no daemon runs any more is not running (SPEC §10).
            var phase = state.phase.rawValue
            if state.phase != .queued, !spool.daemonPresence().isServing { phase += " (daemon not running)" }
            console.line("job \(id)" + (state.name != id ? " (\(state.name))" : "") + ", file \(state.file): \(phase), no record yet")
            console.line("  policy:   \(state.policy?.rawValue ?? "-")")
            console.line("  received: \(state.receivedAt.text)")
            console.line("  started:  \(state.startedAt?.text ?? "-")")
            console.line("tasks:")
            let rows = state.tasks.map { task in
                // The Slurm job of the task's latest attempt (executor: slurm), once gatherd learned it.
                let slurmJob = state.slurmJobs.last { $0.task == task.name && $0.attempt == task.attempts }
                return [task.name, task.status.rawValue, task.pid.map { "pid \($0)" } ?? "",
                        task.attempts == 1 ? "1 attempt" : "\(task.attempts) attempts", slurmJob.map { "slurm job \($0.id)" } ?? ""]
            }
            RecordView.table(rows, indent: "  ").forEach(console.line)
            return .success
        }
        if spool.contains(id, in: .active) { throw CtlError(.error, "job \(id) is in \(spool.path)/active but its state cannot be read") }
        if spool.contains("\(id).json", in: .incoming) {
            console.line("job \(id): waiting in \(spool.path)/incoming, not claimed yet")
            return .success
        }
        throw CtlError(.failed, "no job \(id) in \(spool.path)")
    }
}
