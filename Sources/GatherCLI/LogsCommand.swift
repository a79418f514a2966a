import GatherJournal
import GatherSpool
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `gatherctl logs ID [--follow]`: the job's journal entries through
/// sd-journal (`GATHER_JOB=ID`), one line each in the manner of
/// `journalctl`'s short output: local time, the task and stream when the
/// entry has them (else `gatherd`), the message. `--follow` keeps reading
/// new entries until SIGINT, SIGTERM or SIGHUP, then exits 0.
///
/// gatherd's entries are in the system journal: reading them needs what
/// `journalctl` needs, root or the `systemd-journal`/`adm` group; a caller
/// without is told so (exit 1) rather than shown nothing. A job that is
/// neither in the spool nor in the journal is unknown (exit 1), also with
/// `--follow`, which would otherwise wait forever.
struct LogsCommand {
    let id: String
    let follow: Bool
    let json: Bool
    let spool: SpoolFiles

    func run(_ console: Console) throws(CtlError) -> CtlExit {
        if case .denied(let file) = JournalAccess.current() {
            throw CtlError(.failed, "you may not read gatherd's journal entries (\(file)): that needs root or the "
                           + "systemd-journal or adm group, as journalctl does")
        }
        let reader: JournalReader
        let existing: [JournalRecord]
        do throws(JournalError) {
            reader = try JournalReader(job: id)
            existing = try reader.readAll()
        } catch {
            throw CtlError(.error, "\(error)")
        }
        guard !existing.isEmpty || isInSpool else {
            throw CtlError(.failed, "no job \(id): it is not in \(spool.path) and the journal has no entries for it")
        }
        for record in existing { console.line(text(of: record)) }
        do throws(JournalError) {
            if follow {
                FollowStop.install()
                try reader.follow(until: { console.flush(); return FollowStop.requested || console.isClosed }) { console.line(text(of: $0)) }
            }
        } catch {
            throw CtlError(.error, "\(error)")
        }
        return .success
    }

    /// Whether job `id` waits, runs or has its record in the spool.
    private var isInSpool: Bool {
        spool.contains("\(id).json", in: .incoming)
            || [.active, .done, .failed, .rejected].contains { spool.contains(id, in: $0) }
    }

    private func text(of record: JournalRecord) -> String {
        json ? Self.json(record).serialized(pretty: false) : Self.line(record)
    }

    /// `Nov 25 04:25:39 dump-db/stderr: pg_dump: error: connection refused`
    static func line(_ record: JournalRecord) -> String {
        var source = record["GATHER_TASK"] ?? "gatherd"
        if let stream = record["GATHER_STREAM"] { source += "/\(stream)" }
        // journalctl indents the continuation lines of a multi-line message.
        let prefix = "\(time(record.realtimeMicroseconds)) \(source): "
        let indent = String(repeating: " ", count: prefix.count)
        return prefix + record.message.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n" + indent)
    }

    /// The entry as `journalctl -o json` writes it: every field, a repeated
    /// field as an array, plus `__REALTIME_TIMESTAMP` and `__CURSOR`.
    static func json(_ record: JournalRecord) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("__CURSOR", .string(record.cursor)), ("__REALTIME_TIMESTAMP", .string(String(record.realtimeMicroseconds))),
        ]
        for field in record.fields where !members.contains(where: { $0.key == field.name }) {
            let values = record.values(field.name)
            members.append((field.name, values.count == 1 ? .string(values[0]) : .array(values.map(JSONValue.string))))
        }
        return .object(members)
    }

    /// `Nov 25 04:25:39` in local time, as `journalctl` shows it.
    static func time(_ microseconds: UInt64) -> String {
        var seconds = time_t(microseconds / 1_000_000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%b %d %H:%M:%S", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Ends `logs --follow` on SIGINT, SIGTERM or SIGHUP. The handlers are set
/// explicitly (not left at what the parent passed down, which may be
/// "ignore") and without `SA_RESTART`, so `sd_journal_wait` returns at once.
enum FollowStop {
    private static let flag = Atomic<Bool>(false)

    static var requested: Bool { flag.load(ordering: .relaxed) }

    static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in FollowStop.flag.store(true, ordering: .relaxed) }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            sigaction(signal, &action, nil)
            sigaddset(&unblock, signal)
        }
        sigprocmask(SIG_UNBLOCK, &unblock, nil)
    }
}
