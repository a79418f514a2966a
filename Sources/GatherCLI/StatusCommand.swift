import GatherSpool
#if canImport(Glibc)
import Glibc
#endif

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
        let area: String
        let written: Int64
    }

    func run(_ console: Console) throws(CtlError) -> CtlExit {
        try spool.requireExists()
        let now = Timestamp.now()
        let active = try spool.names(in: "active").compactMap { id -> (id: String, value: JSONValue?, state: JobStateFile?)? in
            if let found = spool.state(id) { return (id, found.value, found.state) }
            // Claimed a moment ago (state.json not yet written), or not ours to read.
            return spool.exists("active/\(id)/job.json") && access("\(spool.path)/active/\(id)", R_OK | X_OK) == 0 ? (id, nil, nil) : nil
        }
        let finished = latestFinished().compactMap { entry -> RecordView? in
            guard let found = try? spool.finished(entry.id) else { return nil }
            return RecordView(record: found.record)
        }
        if json {
            let summary: [JSONValue] = finished.map { view -> JSONValue in
                let name: JSONValue = view.record["name"] ?? .null
                let finishedAt: JSONValue = view.record["finished_at"] ?? .null
                let error: JSONValue = view.record["error"] ?? .null
                return .object([("id", .string(view.id)), ("name", name), ("state", .string(view.state)),
                                ("finished_at", finishedAt), ("error", error)])
            }
            let jobs: [JSONValue] = active.map { $0.value ?? .object([("id", .string($0.id)), ("state", .string("queued"))]) }
            console.line(JSONValue.object([("active", .array(jobs)), ("finished", .array(summary))]).serialized())
            return .success
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
                             String(statuses.filter { $0 == "running" }.count),
                             String(statuses.filter { $0 == "succeeded" }.count),
                             String(statuses.filter(TaskOutcomeText.isError).count), String(state.tasks.count)])
            }
            RecordView.table(rows).forEach(console.line)
        }
        guard !finished.isEmpty else { return .success }
        console.line("")
        console.line("latest finished:")
        var rows = [["ID", "STATE", "FINISHED", "ERROR"]]
        for view in finished {
            var error = view.error ?? ""
            if error.count > 100 { error = String(error.prefix(99)) + "…" }
            rows.append([view.id, view.state, view.record["finished_at"]?.text ?? "-", error])
        }
        RecordView.table(rows).forEach(console.line)
        return .success
    }

    /// The `last` most recently finished jobs, newest first, by the time
    /// their `result.json` was written (cheap: one `stat` per job).
    private func latestFinished() -> [Finished] {
        guard last > 0 else { return [] }
        var all: [Finished] = []
        for area in SpoolFiles.finishedAreas {
            for id in (try? spool.names(in: area)) ?? [] {
                var info = stat()
                guard stat("\(spool.path)/\(area)/\(id)/result.json", &info) == 0 else { continue }
                all.append(Finished(id: id, area: area, written: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)))
            }
        }
        return Array(all.sorted { ($0.written, $0.id) > ($1.written, $1.id) }.prefix(last))
    }
}
