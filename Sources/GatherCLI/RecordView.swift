import GatherSpool

/// A result record (SPEC §6) as gatherctl prints it. Reads the JSON loosely:
/// a field this version does not know is shown as missing, never an error,
/// so an older gatherctl can still show a newer daemon's record.
struct RecordView {
    let record: JSONValue

    var id: String { record["id"]?.text ?? "?" }
    var state: String { record["state"]?.text ?? "?" }
    var error: String? { record["error"]?.text }

    /// `ID: state`, with the compound error (or the validation errors) after it.
    var outcomeLine: String {
        if let error { return "\(id): \(state): \(error)" }
        return "\(id): \(state)"
    }

    /// The readable form of `gatherctl show ID`.
    var lines: [String] {
        func field(_ key: String) -> String { record[key]?.text ?? "-" }
        var out: [String] = []
        let name = field("name")
        out.append("job \(id)" + (name != id ? " (\(name))" : "") + ", file \(field("file"))")
        var header: [(String, String)] = [("state", state), ("policy", field("policy"))]
        let uid = record["uid"]?.int.map(String.init) ?? "?"
        var submitter = record["user"]?.text.map { "\($0) (uid \(uid))" } ?? "uid \(uid)"
        if let runAs = record["run_as"]?.text { submitter += ", tasks ran as \(runAs)" }
        header.append(("submitter", submitter))
        header.append(("received", field("received_at")))
        header.append(("started", field("started_at")))
        var finished = field("finished_at")
        if let start = record["started_at"]?.text.flatMap(Timestamp.init(text:)),
           let end = record["finished_at"]?.text.flatMap(Timestamp.init(text:)) {
            finished += " (ran \(Self.duration(milliseconds: end.millisecondsSinceEpoch - start.millisecondsSinceEpoch)))"
        }
        header.append(("finished", finished))
        header.append(("run", field("run")))
        if let error { header.append(("error", error)) }
        out += header.map { "  \(Self.pad($0.0 + ":", 11))\($0.1)" }
        let tasks = record["tasks"]?.items ?? []
        guard !tasks.isEmpty else { return out }
        out.append("tasks:")
        let rows: [[String]] = tasks.map { task in
            let attempts = task["attempts"]?.int ?? 0
            var ended = ""
            if let status = task["exit_status"]?.int { ended = "exit \(status)" }
            if let signal = task["signal"]?.text { ended = ended.isEmpty ? signal : "\(ended), \(signal)" }
            return [task["name"]?.text ?? "?", task["outcome"]?.text ?? "?", ended,
                    task["duration_ms"]?.int.map { Self.duration(milliseconds: $0) } ?? "",
                    attempts == 1 ? "1 attempt" : "\(attempts) attempts", task["reason"]?.text ?? ""]
        }
        let table = Self.table(rows, indent: "  ")
        for (task, row) in zip(tasks, table) {
            out.append(row)
            if let tail = task["stderr_tail"]?.text, !tail.isEmpty {
                out.append("    stderr:")
                var tailLines = tail.split(separator: "\n", omittingEmptySubsequences: false)
                if tailLines.last == "" { tailLines.removeLast() }
                out += tailLines.map { "      \($0)" }
            }
        }
        return out
    }

    /// `812ms`, `4.2s`, `3m12s`, `2h5m`: a measured duration, rounded for people.
    static func duration(milliseconds ms: Int64) -> String {
        if ms < 1000 { return "\(max(0, ms))ms" }
        if ms < 60_000 {
            let tenths = (ms + 50) / 100
            return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
        }
        return age(seconds: ms / 1000)
    }

    /// `45s`, `3m12s`, `2h5m`, `3d4h`: two units at most.
    static func age(seconds s: Int64) -> String {
        let s = max(0, s)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" + (s % 60 == 0 ? "" : "\(s % 60)s") }
        if s < 86_400 { return "\(s / 3600)h" + ((s % 3600) / 60 == 0 ? "" : "\((s % 3600) / 60)m") }
        return "\(s / 86_400)d" + ((s % 86_400) / 3600 == 0 ? "" : "\((s % 86_400) / 3600)h")
    }

    /// `text` padded with spaces to `width` characters.
    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// Rows aligned in columns two spaces apart, trailing spaces trimmed.
    static func table(_ rows: [[String]], indent: String = "") -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return rows.map { row in
            var line = indent
            for (c, cell) in row.enumerated() { line += c == row.count - 1 ? cell : pad(cell, widths[c] + 2) }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
    }
}
