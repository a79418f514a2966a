import Gather
import GatherSpool
import GatherSystem

/// A result record (SPEC §6) as gatherctl prints it, from the typed
/// ``JobRecord``: ``SpoolReader`` decodes only what this version wrote, and
/// passes over the members it does not know, so a newer daemon's additions
/// never stop an older gatherctl from showing a record.
struct RecordView {
    let record: JobRecord

    var id: String { record.id }
    var state: JobState { record.state }
    var error: String? { record.error }

    /// `ID: state`, with the compound error (or the validation errors) after it.
    var outcomeLine: String {
        if let error { return "\(id): \(state.rawValue): \(error)" }
        return "\(id): \(state.rawValue)"
    }

    /// The readable form of `gatherctl show ID`.
    var lines: [String] {
        var out: [String] = []
        out.append("job \(id)" + (record.name != id ? " (\(record.name))" : "") + ", file \(record.file)")
        var header: [(String, String)] = [("state", state.rawValue), ("policy", record.policy?.rawValue ?? "-")]
        var submitter = record.user.map { "\($0) (uid \(record.uid))" } ?? "uid \(record.uid)"
        if let runAs = record.runAs { submitter += ", tasks ran as \(runAs)" }
        header.append(("submitter", submitter))
        header.append(("received", record.receivedAt.text))
        header.append(("started", record.startedAt?.text ?? "-"))
        var finished = record.finishedAt.text
        if let start = record.startedAt {
            let ran = record.finishedAt.millisecondsSinceEpoch - start.millisecondsSinceEpoch
            finished += " (ran \(Self.duration(milliseconds: ran)))"
        }
        header.append(("finished", finished))
        header.append(("run", record.run))
        if let usage = record.usage.flatMap(Self.usage) { header.append(("usage", usage)) }
        if let error { header.append(("error", error)) }
        out += header.map { "  \(Self.pad($0.0 + ":", 11))\($0.1)" }
        guard !record.tasks.isEmpty else { return out + hookLines }
        out.append("tasks:")
        let rows: [[String]] = record.tasks.map { task in
            var ended = ""
            if let status = task.exitStatus { ended = "exit \(status)" }
            if let signal = task.signal { ended = ended.isEmpty ? signal : "\(ended), \(signal)" }
            return [task.name, task.outcome.rawValue, ended, task.durationMS.map { Self.duration(milliseconds: $0) } ?? "",
                    task.attempts == 1 ? "1 attempt" : "\(task.attempts) attempts", task.reason ?? ""]
        }
        let table = Self.table(rows, indent: "  ")
        for (task, row) in zip(record.tasks, table) {
            out.append(row)
            if let usage = task.usage.flatMap(Self.usage) { out.append("    usage: \(usage)") }
            if let slurmJob = task.slurmJob { out.append("    slurm job: \(slurmJob)") }
            // The record's `stderr_tail`, which the decoder keeps as the task's bytes.
            let tail = String(decoding: task.stderr, as: UTF8.self)
            if !tail.isEmpty {
                out.append("    stderr:")
                var tailLines = tail.split(separator: "\n", omittingEmptySubsequences: false)
                if tailLines.last == "" { tailLines.removeLast() }
                out += tailLines.map { "      \($0)" }
            }
        }
        return out + hookLines
    }

    /// The record's `hooks`, one row each: `on_failure  failed  exit 2  40ms`.
    var hookLines: [String] {
        guard !record.hooks.isEmpty else { return [] }
        let rows: [[String]] = record.hooks.map { hook in
            [hook.name, hook.outcome.rawValue, hook.exitStatus.map { "exit \($0)" } ?? "",
             hook.durationMS.map { Self.duration(milliseconds: $0) } ?? ""]
        }
        return ["hooks:"] + Self.table(rows, indent: "  ")
    }

    /// `cpu 1.234s, memory peak 12.5M, tasks peak 3`: what a cgroup used (the
    /// record's `cpu_usec`, `memory_peak`, `tasks_peak`), the parts it has;
    /// `nil` when it has none.
    static func usage(_ usage: CgroupUsage) -> String? {
        var parts: [String] = []
        if let cpu = usage.cpuUsec { parts.append("cpu \(cpuTime(microseconds: cpu))") }
        if let memory = usage.memoryPeak { parts.append("memory peak \(size(bytes: memory))") }
        if let tasks = usage.tasksPeak { parts.append("tasks peak \(tasks)") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// `1.234s`: CPU time in seconds, to the millisecond.
    static func cpuTime(microseconds us: UInt64) -> String {
        let ms = us / 1000 + (us % 1000 >= 500 ? 1 : 0)
        let fraction = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)s"
    }

    /// `900B`, `4K`, `12.5M`, `1.2G`: bytes in the largest binary unit they
    /// reach, to one decimal (none when it is 0).
    static func size(bytes: UInt64) -> String {
        let units: [(String, UInt64)] = [("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        guard let index = units.firstIndex(where: { bytes >= $0.1 }) else { return "\(bytes)B" }
        var (unit, scale) = units[index]
        var tenths = (Double(bytes) / Double(scale) * 10).rounded()
        // 1023.96K rounds to 1024.0K: that is 1M.
        if tenths >= 10240, index > 0 {
            (unit, scale) = units[index - 1]
            tenths = (Double(bytes) / Double(scale) * 10).rounded()
        }
        let t = UInt64(tenths)
        return "\(t / 10)" + (t % 10 == 0 ? "" : ".\(t % 10)") + unit
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
