/// The readable stderr line for an entry, used when the journal cannot take it.
///
/// Events read `gatherd: err: job nightly-backup failed: CompoundError, …`;
/// output lines `gatherd: nightly-backup/dump-db[1] stderr: text`, so a person
/// reading a console or a log file sees which task wrote what. Newlines inside
/// a value are shown as `\n` so each entry stays one line.
///
/// An entry written again because journald may not have read it (the writer's
/// replay) starts `gatherd: replay: `, so it can be told from one written to
/// stderr only; it may be in the journal as well.
enum StderrLine {
    static func render(_ entry: JournalEntry, isOutput: Bool, replayed: Bool = false) -> String {
        let message = escaped(entry.message)
        let level = SyslogLevel.name(entry.priority)
        let prefix = replayed ? "gatherd: replay: " : "gatherd: "
        if isOutput {
            let job = entry["GATHER_JOB"] ?? "?"
            let task = entry["GATHER_TASK"] ?? "?"
            let attempt = entry["GATHER_ATTEMPT"] ?? "?"
            let stream = entry["GATHER_STREAM"] ?? "?"
            return "\(prefix)\(job)/\(task)[\(attempt)] \(stream): \(message)\n"
        }
        var line = "\(prefix)\(level): \(message)"
        // The repeated failures are in MESSAGE already, except those beyond its cap.
        if let omitted = entry["GATHER_FAILURES_OMITTED"] {
            line += " (\(omitted) more failures not listed)"
        }
        return line + "\n"
    }

    private static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) else { return text }
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count + 8)
        for character in text {
            switch character {
            case "\r": escaped += "\\r"
            case "\n": escaped += "\\n"
            case "\r\n": escaped += "\\r\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
