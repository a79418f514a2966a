import Gather
import GatherSpool

/// `gatherctl list [--state S] [--since DUR] [--user NAME]`: finished jobs,
/// newest first (SPEC §10).
///
/// No index: the spool is the index. `--state` picks the directories that
/// can hold it (`succeeded` is `done/`, `rejected` is `rejected/`, the other
/// three are in `failed/`). `--since` first keeps the jobs whose
/// `result.json` was written since then (one `stat` each: a record is
/// written when its job ends and only replaced afterwards, so its time is
/// never before the end); only those records are read, and their
/// `finished_at` decides. So `list --state failed --since 1h` on 100,000
/// finished jobs reads the records of the last hour only
/// (`Benchmarks/list-bench.sh` measures it). Records the caller may not read
/// (another user's, mode 0750) are left out, as `status` does.
struct ListCommand {
    let state: JobState?
    let since: Duration?
    let user: String?
    let spool: SpoolFiles
    let json: Bool

    func run(_ console: Console) throws(CtlError) -> CtlExit {
        let reader = try spool.reader()
        let nowMS = Timestamp.now().millisecondsSinceEpoch
        let cutoffMS = since.map { nowMS - Int64($0.components.seconds) * 1000 - Int64($0.components.attoseconds / 1_000_000_000_000_000) }
        var records: [JobRecord] = []
        for area in areas {
            for id in (try? reader.ids(in: area)) ?? [] {
                if let cutoffMS {
                    // A second of slack for the clocks of the stat and the record.
                    guard let written = reader.recordWritten(id, in: area), written / 1_000_000 >= cutoffMS - 1000 else { continue }
                }
                guard let record = try? reader.record(id, in: area)?.value else { continue }
                if let state, record.state != state { continue }
                if let cutoffMS, record.finishedAt.millisecondsSinceEpoch < cutoffMS { continue }
                if let user, record.user != user, String(record.uid) != user { continue }
                records.append(record)
            }
        }
        records.sort { ($0.finishedAt.millisecondsSinceEpoch, $0.id) > ($1.finishedAt.millisecondsSinceEpoch, $1.id) }
        if json {
            let rows: [JSONValue] = records.map { record in
                .object([("id", .string(record.id)), ("name", .string(record.name)), ("state", .string(record.state.rawValue)),
                         ("uid", .integer(Int64(record.uid))), ("user", record.user.map(JSONValue.string) ?? .null),
                         ("finished_at", .string(record.finishedAt.text)), ("error", record.error.map(JSONValue.string) ?? .null)])
            }
            console.line(JSONValue.array(rows).serialized())
            return .success
        }
        guard !records.isEmpty else {
            console.line("no finished jobs" + (state.map { " in state \($0.rawValue)" } ?? "")
                         + (since.map { " in the last \(DurationText.format($0))" } ?? "") + (user.map { " of \($0)" } ?? ""))
            return .success
        }
        var rows = [["ID", "STATE", "USER", "FINISHED", "ERROR"]]
        for record in records {
            var error = record.error ?? ""
            if error.count > 100 { error = String(error.prefix(99)) + "…" }
            rows.append([record.id, record.state.rawValue, record.user ?? String(record.uid), record.finishedAt.text, error])
        }
        RecordView.table(rows).forEach(console.line)
        return .success
    }

    /// The directories that can hold a job in `state`.
    private var areas: [SpoolReader.Area] {
        switch state {
        case nil: return SpoolReader.finishedAreas
        case .succeeded?: return [.done]
        case .rejected?: return [.rejected]
        case .failed?, .cancelled?, .interrupted?: return [.failed]
        }
    }
}
