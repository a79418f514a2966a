import GatherSpool

/// `gatherctl status`: the jobs in `active/` from their `state.json`
/// (docs/state-json.md) and the latest finished ones from their records.
/// Jobs the caller may not read (another user's, mode 0750) are left out.
struct StatusCommand {
    let last: Int
    let spool: SpoolFiles
    let json: Bool

    /// A finished job: where its record is and when it was written.
    private struct Finished {
        let id: String
        let area: SpoolReader.Area
        let written: Int64
    }

    func run(_ console: Console) throws(CtlError) -> CtlExit {
        let reader = try spool.reader()
        let now = Timestamp.now()
        let active = try spool.ids(in: .active).compactMap { id -> (id: String, value: JSONValue?, state: JobStateFile?)? in
            if let found = reader.state(id) { return (id, found.json, found.value) }
            // Claimed a moment ago (state.json not yet written), or not ours to read.
            return reader.hasJobFile(id) ? (id, nil, nil) : nil
        }
        let finished = latestFinished(reader).compactMap { entry -> JobRecord? in
            try? reader.record(entry.id, in: entry.area)?.value
        }
        // SPEC §3: while the spool's `paused` file exists no file is claimed.
        let paused = (try? spool.reader())?.pauseRequested ?? false
        if json {
            let summary: [JSONValue] = finished.map { record -> JSONValue in
                .object([("id", .string(record.id)), ("name", .string(record.name)), ("state", .string(record.state.rawValue)),
                         ("finished_at", .string(record.finishedAt.text)), ("error", record.error.map(JSONValue.string) ?? .null)])
            }
            let jobs: [JSONValue] = active.map { $0.value ?? .object([("id", .string($0.id)), ("state", .string("queued"))]) }
            console.line(JSONValue.object([("paused", .bool(paused)), ("active", .array(jobs)), ("finished", .array(summary))]).serialized())
            return .success
        }
        if paused {
            console.line("paused: no new job is claimed until \"gatherctl resume\" (running and queued jobs go on)")
        }
        if active.isEmpty {
            console.line("no jobs in \(spool.path)/active")
        } else {
            var rows = [["ID", "STATE", "POLICY", "AGE", "RUNNING", "SUCCEEDED", "ERRORS", "TASKS"]]
            for job in active {
                guard let state = job.state else {
                    rows.append([job.id, "queued", "-", "-", "0", "0", "0", "-"])
                    continue
                }
                let statuses = state.tasks.map(\.status)
                let age = (now.millisecondsSinceEpoch - state.receivedAt.millisecondsSinceEpoch) / 1000
                rows.append([state.id, state.phase.rawValue, state.policy?.rawValue ?? "-", RecordView.age(seconds: age),
                             String(statuses.filter { $0 == .running }.count),
                             String(statuses.filter { $0 == .ended(.succeeded) }.count),
                             String(statuses.filter { $0.outcome?.isError == true }.count), String(state.tasks.count)])
            }
            RecordView.table(rows).forEach(console.line)
        }
        guard !finished.isEmpty else { return .success }
        console.line("")
        console.line("latest finished:")
        var rows = [["ID", "STATE", "FINISHED", "ERROR"]]
        for record in finished {
            var error = record.error ?? ""
            if error.count > 100 { error = String(error.prefix(99)) + "…" }
            rows.append([record.id, record.state.rawValue, record.finishedAt.text, error])
        }
        RecordView.table(rows).forEach(console.line)
        return .success
    }

    /// The `last` most recently finished jobs, newest first, by the time
    /// their `result.json` was written (cheap: one `stat` per job).
    private func latestFinished(_ reader: SpoolReader) -> [Finished] {
        guard last > 0 else { return [] }
        var all: [Finished] = []
        for area in SpoolReader.finishedAreas {
            for id in (try? reader.ids(in: area)) ?? [] {
                guard let written = reader.recordWritten(id, in: area) else { continue }
                all.append(Finished(id: id, area: area, written: written))
            }
        }
        return Array(all.sorted { ($0.written, $0.id) > ($1.written, $1.id) }.prefix(last))
    }
}
