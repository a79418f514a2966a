import GatherSystem

/// Where a task output line belongs: the job, task and attempt that wrote it.
public struct TaskOutputSource: Sendable, Hashable {
    public var job: JobIdentity
    public var task: String
    public var attempt: Int
    /// Which pipe of the task the line came from (`GATHER_STREAM`).
    public var stream: StandardStream
    /// The PID of the process that wrote it (`SYSLOG_PID`), when known.
    public var pid: Int32?

    public init(job: JobIdentity, task: String, attempt: Int, stream: StandardStream, pid: Int32? = nil) {
        self.job = job
        self.task = task
        self.attempt = attempt
        self.stream = stream
        self.pid = pid
    }

    /// `SYSLOG_IDENTIFIER` of the task's lines: `ID/TASK`. They are the task's
    /// words, not gatherd's, so they never carry gatherd's own identifier
    /// (`journalctl -t gatherd` shows gatherd's entries only) and
    /// `journalctl -u gatherd` shows them as `ID/TASK[pid]: text`.
    public var syslogIdentifier: String { "\(job.id)/\(task)" }
}

extension JournalEntry {
    /// Longest MESSAGE of one output entry; a longer line becomes several entries (SPEC §7).
    public static let maxOutputChunk = 64 * 1024

    /// The entries for one line a task wrote (SPEC §7).
    ///
    /// PRIORITY is 6, or the level of a leading `<N>` prefix (`N` = 0…7, the
    /// sd-daemon convention), which is stripped; levels 0–2 are lowered to 3 so
    /// no task can reach every terminal or spend the budget journald keeps for
    /// emergencies. A line over ``maxOutputChunk`` bytes is split at UTF-8
    /// character boundaries into entries of that size at most, each with the
    /// same priority and fields.
    /// - Parameters:
    ///   - line: the bytes of the line, without its newline (a trailing `\n` is dropped if present).
    ///   - source: the job, task, attempt and stream.
    public static func taskOutput(_ line: some Collection<UInt8>, from source: TaskOutputSource) -> [JournalEntry] {
        taskOutput(line, fields: TaskOutputFields(source))
    }

    /// The entries for one line, with the fields every line of its source
    /// shares made once (``TaskOutputFields``): per line only MESSAGE and
    /// PRIORITY are new.
    public static func taskOutput(_ line: some Collection<UInt8>, fields: TaskOutputFields) -> [JournalEntry] {
        var bytes = Array(line)
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        let (level, start) = outputLevel(of: bytes)
        var entries: [JournalEntry] = []
        var offset = start
        repeat {
            let end = chunkEnd(bytes, from: offset, limit: maxOutputChunk)
            var entry = JournalEntry()
            entry.reserveFields(2 + fields.shared.count)
            entry.appendKnown("MESSAGE", bytes: offset == 0 && end == bytes.count ? bytes : Array(bytes[offset..<end]))
            entry.appendKnown("PRIORITY", bytes: TaskOutputFields.priorities[level])
            entry.appendFields(fields.shared)
            entries.append(entry)
            offset = end
        } while offset < bytes.count
        return entries
    }

    /// The priority of a line and where its text starts after a `<N>` prefix.
    static func outputLevel(of bytes: [UInt8]) -> (level: Int, start: Int) {
        guard bytes.count >= 3, bytes[0] == UInt8(ascii: "<"), bytes[2] == UInt8(ascii: ">"),
              (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(bytes[1]) else {
            return (6, 0)
        }
        let level = Int(bytes[1] - UInt8(ascii: "0"))
        return (max(level, 3), 3)
    }

    /// The end of a chunk of at most `limit` bytes from `start`, moved back so it
    /// does not cut a UTF-8 sequence (a continuation byte is `10xxxxxx`).
    static func chunkEnd(_ bytes: [UInt8], from start: Int, limit: Int) -> Int {
        let end = min(start + limit, bytes.count)
        guard end < bytes.count else { return end }
        var cut = end
        // At most 3 continuation bytes follow a lead byte; never back off further.
        while cut > start, end - cut < 4, bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
        return (cut == start || end - cut >= 4) ? end : cut
    }
}

/// The fields every output line of one source shares — `SYSLOG_IDENTIFIER`,
/// `SYSLOG_PID`, the job's, `GATHER_TASK`, `GATHER_ATTEMPT`, `GATHER_STREAM` —
/// made once, so that a line costs two new fields, not eleven (the output
/// reader's thread makes every task's entries).
public struct TaskOutputFields: Sendable {
    /// The source they were made for.
    public let source: TaskOutputSource
    let shared: [JournalEntry.Field]

    /// `PRIORITY` values 0…7, made once.
    static let priorities: [[UInt8]] = (0...7).map { Array(String($0).utf8) }

    public init(_ source: TaskOutputSource) {
        self.source = source
        var entry = JournalEntry()
        entry.appendKnown("SYSLOG_IDENTIFIER", source.syslogIdentifier)
        if let pid = source.pid { entry.appendKnown("SYSLOG_PID", String(pid)) }
        JournalEntry.appendJob(&entry, source.job)
        entry.appendKnown("GATHER_TASK", source.task)
        entry.appendKnown("GATHER_ATTEMPT", String(source.attempt))
        entry.appendKnown("GATHER_STREAM", source.stream.rawValue)
        shared = entry.fields
    }
}
