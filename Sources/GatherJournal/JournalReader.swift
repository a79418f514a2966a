import GatherSystem
import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// One entry read back from the journal.
public struct JournalRecord: Sendable {
    /// Every field in the order journald returned them; repeated names appear repeatedly.
    public let fields: [JournalEntry.Field]
    /// When journald received it, microseconds since the epoch.
    public let realtimeMicroseconds: UInt64
    /// The entry's cursor (for resuming a read).
    public let cursor: String

    /// Every value of `name`, in order (a repeated `GATHER_FAILURE` gives several).
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name == name }.map(\.text)
    }

    /// The first value of `name`.
    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.text
    }

    /// `MESSAGE`, or an empty string.
    public var message: String { self["MESSAGE"] ?? "" }
}

/// Reads the journal through sd-journal, for `gatherctl logs ID [--follow]`.
///
///     let reader = try JournalReader(job: "nightly-backup")
///     for record in try reader.readAll() { print(record.message) }
///     try reader.follow(until: { stopped }) { print($0.message) }
///
/// Not thread-safe (sd-journal is not): use one reader from one thread.
public final class JournalReader {
    private let journal: OpaquePointer

    /// Opens the local journal (system and runtime files) with field matches.
    /// - Parameter matches: `NAME=value` strings; entries must match all of them
    ///   (different names AND, the same name OR, as in `journalctl`).
    /// - Throws: ``JournalError`` `.readFailed` when the journal cannot be opened
    ///   or a match is malformed.
    public init(matches: [String]) throws(JournalError) {
        var handle: OpaquePointer?
        let opened = sd_journal_open(&handle, Int32(SD_JOURNAL_LOCAL_ONLY))
        guard opened >= 0, let handle else {
            throw JournalError(.readFailed, errno: -opened, detail: "cannot open the journal")
        }
        journal = handle
        // The default threshold cuts values at 64 KiB; output chunks are up to that size.
        _ = sd_journal_set_data_threshold(journal, 0)
        for match in matches {
            let added = match.withCString { sd_journal_add_match(journal, $0, 0) }
            if added < 0 {
                sd_journal_close(journal)
                throw JournalError(.readFailed, field: match, errno: -added, detail: "bad match")
            }
        }
    }

    /// A reader of one job's entries (`GATHER_JOB=ID`), as `gatherctl logs ID` shows them.
    public convenience init(job: String) throws(JournalError) {
        try self.init(matches: ["GATHER_JOB=\(job)"])
    }

    deinit {
        sd_journal_close(journal)
    }

    /// Moves before the first entry (the initial position).
    public func seekHead() throws(JournalError) {
        try check(sd_journal_seek_head(journal), "cannot seek to the head")
    }

    /// Moves past the last entry, so ``next()`` returns only entries written later.
    public func seekTail() throws(JournalError) {
        try check(sd_journal_seek_tail(journal), "cannot seek to the tail")
        // After seek_tail, sd-journal must step onto the last entry before `next` works as expected.
        _ = sd_journal_previous(journal)
    }

    /// The next matching entry, or `nil` at the end for now.
    public func next() throws(JournalError) -> JournalRecord? {
        let moved = sd_journal_next(journal)
        if moved < 0 { throw JournalError(.readFailed, errno: -moved, detail: "cannot read the next entry") }
        if moved == 0 { return nil }
        return try current()
    }

    /// Every matching entry from the current position to the end.
    public func readAll() throws(JournalError) -> [JournalRecord] {
        var records: [JournalRecord] = []
        while let record = try next() { records.append(record) }
        return records
    }

    /// Waits for the journal to change, at most `timeout` (forever when `nil`).
    /// - Returns: `true` when entries were added or files changed, `false` on timeout.
    @discardableResult
    public func wait(timeout: Duration?) throws(JournalError) -> Bool {
        let micros: UInt64 = timeout.map { $0.clampedNanoseconds / 1_000 } ?? UInt64.max
        // A signal that ends the wait early starts it again, with the whole
        // timeout: the caller only learns of a change or the timeout.
        switch SystemCall.callReturningNegativeError({ sd_journal_wait(journal, micros) }) {
        case .success(let result): return result != SD_JOURNAL_NOP
        case .failure(let errno): throw JournalError(.readFailed, errno: errno.rawValue, detail: "cannot wait for the journal")
        }
    }

    /// Follow mode: hands every entry from the current position to `body`, then
    /// waits for new ones, until `stop` returns `true` (checked at least every `poll`).
    public func follow(
        poll: Duration = .milliseconds(250),
        until stop: () -> Bool,
        _ body: (JournalRecord) -> Void
    ) throws(JournalError) {
        while !stop() {
            while let record = try next() {
                body(record)
                if stop() { return }
            }
            try wait(timeout: poll)
        }
    }

    private func current() throws(JournalError) -> JournalRecord {
        var fields: [JournalEntry.Field] = []
        var data: UnsafeRawPointer?
        var length = 0
        sd_journal_restart_data(journal)
        while true {
            let result = sd_journal_enumerate_data(journal, &data, &length)
            if result < 0 { throw JournalError(.readFailed, errno: -result, detail: "cannot read an entry's fields") }
            if result == 0 { break }
            guard let data else { continue }
            let bytes = UnsafeRawBufferPointer(start: data, count: length)
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: bytes[..<equals], as: UTF8.self)
            fields.append(JournalEntry.Field(name: name, value: Array(bytes[(equals + 1)...])))
        }
        var realtime: UInt64 = 0
        _ = sd_journal_get_realtime_usec(journal, &realtime)
        var cursorText = ""
        var cursor: UnsafeMutablePointer<CChar>?
        if sd_journal_get_cursor(journal, &cursor) >= 0, let cursor {
            cursorText = String(cString: cursor)
            free(cursor)
        }
        return JournalRecord(fields: fields, realtimeMicroseconds: realtime, cursor: cursorText)
    }

    private func check(_ result: Int32, _ what: String) throws(JournalError) {
        if result < 0 { throw JournalError(.readFailed, errno: -result, detail: what) }
    }
}
