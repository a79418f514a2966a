import GatherSpool

/// `gatherctl status`: whether a gatherd serves the spool (its `flock`), the
/// files waiting in `incoming/`, the jobs in `active/` from their
/// `state.json` (docs/state-json.md) and the latest finished ones from their
/// records. Jobs the caller may not read (another user's, mode 0750) are left
/// out. A job marked running while no daemon holds the spool is not running:
/// it shows as `running (daemon not running)` (SPEC §10).
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
        // Before the daemon's first start there is no active/ yet: no job is there.
        let activeIDs = reader.hasArea(.active) ? try spool.ids(in: .active) : []
        let active = activeIDs.compactMap { id -> (id: String, value: JSONValue?, state: JobStateFile?)? in
            if let found = reader.state(id) { return (id, found.json, found.value) }
            // Claimed a moment ago (state.json not yet written), or not ours to read.
            return reader.hasJobFile(id) ? (id, nil, nil) : nil
        }
        let finished = latestFinished(reader).compactMap { entry -> JobRecord? in
            try? reader.record(entry.id, in: entry.area)?.value
        }
        // SPEC §3: while the spool's `paused` file exists no file is claimed.
        let paused = reader.pauseRequested
        let presence = reader.daemonPresence()
        // incoming/ may be listable by its group or by no one but the daemon (mode 1730).
        let incoming = Result { () throws(SpoolError) in try reader.jobFilesWaiting() }
        if json {
            let summary: [JSONValue] = finished.map { record -> JSONValue in
                .object([("id", .string(record.id)), ("name", .string(record.name)), ("state", .string(record.state.rawValue)),
                         ("finished_at", .string(record.finishedAt.text)), ("error", record.error.map(JSONValue.string) ?? .null)])
            }
            let jobs: [JSONValue] = active.map { $0.value ?? .object([("id", .string($0.id)), ("state", .string("queued"))]) }
            var pid: JSONValue = .null
            if case .serving(let holder?) = presence { pid = .integer(Int64(holder)) }
            let daemon = JSONValue.object([("running", .bool(presence.isServing)), ("pid", pid)])
            let waiting = (try? incoming.get()).map { JSONValue.integer(Int64($0.count)) } ?? .null
            console.line(JSONValue.object([("daemon", daemon), ("paused", .bool(paused)), ("incoming", waiting),
                                           ("active", .array(jobs)), ("finished", .array(summary))]).serialized())
            return .success
        }
        switch presence {
        case .serving(let pid?): console.line("gatherd (pid \(pid)) serves \(spool.path)")
        case .serving(nil): console.line("a gatherd serves \(spool.path)")
        case .absent: console.line("no gatherd serves \(spool.path): nothing is claimed or run until one starts")
        }
        switch incoming {
        case .success(let names):
            console.line("\(names.count) file\(names.count == 1 ? "" : "s") waiting in incoming/")
        case .failure(let error):
            console.line("incoming/: cannot count the files waiting (\(error.errno.map { "\($0)" } ?? error.context))")
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
                var phase = state.phase.rawValue
                if state.phase != .queued, !presence.isServing { phase += " (daemon not running)" }
                rows.append([state.id, phase, state.policy?.rawValue ?? "-", RecordView.age(seconds: age),
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
