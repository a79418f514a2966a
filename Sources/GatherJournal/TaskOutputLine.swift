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
        var bytes = Array(line)
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        let (level, start) = outputLevel(of: bytes)
        let priority = String(level)
        let identifier = source.syslogIdentifier
        let pid = source.pid.map { String($0) }
        var entries: [JournalEntry] = []
        var offset = start
        repeat {
            let end = chunkEnd(bytes, from: offset, limit: maxOutputChunk)
            var entry = JournalEntry()
            entry.appendKnown("MESSAGE", bytes: Array(bytes[offset..<end]))
            entry.appendKnown("PRIORITY", priority)
            entry.appendKnown("SYSLOG_IDENTIFIER", identifier)
            if let pid { entry.appendKnown("SYSLOG_PID", pid) }
            appendJob(&entry, source.job)
            entry.appendKnown("GATHER_TASK", source.task)
            entry.appendKnown("GATHER_ATTEMPT", String(source.attempt))
            entry.appendKnown("GATHER_STREAM", source.stream.rawValue)
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
