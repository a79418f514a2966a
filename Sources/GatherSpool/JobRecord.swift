import Gather
import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// The result record `result.json` (SPEC §6), written in the order and with
/// the explicit `null`s the SPEC shows.
public struct JobRecord: Sendable, Equatable {
    /// One task's line in the record.
    public struct TaskEntry: Sendable, Equatable {
        public var name: String
        public var outcome: TaskOutcome
        /// The reason of a `cancelled` or `skipped` task (``TaskReason`` text).
        public var reason: String?
        /// What `waitpid` saw: the exit status, or the signal's name (`SIGTERM`).
        public var exitStatus: Int32?
        public var signal: String?
        public var attempts: Int
        public var startedAt: Timestamp?
        public var durationMS: Int64?
        /// What the task's cgroup used over all its attempts (`cpu_usec`,
        /// `memory_peak`, `tasks_peak`); `nil` where gatherd has no cgroups.
        /// Written for a task that ran, each value only when it is known.
        public var usage: CgroupUsage?
        /// Stderr bytes of the last attempt, as the process wrote them; only
        /// error outcomes show them, rendered and capped by ``json`` (``StderrTailText``).
        public var stderr: [UInt8]
        /// The Slurm job ID of the last attempt (`executor: slurm`, SPEC §6 `slurm_job`); nil: none known.
        public var slurmJob: Int64?

        public init(name: String, outcome: TaskOutcome, reason: String? = nil, exitStatus: Int32? = nil,
                    signal: String? = nil, attempts: Int, startedAt: Timestamp? = nil,
                    durationMS: Int64? = nil, usage: CgroupUsage? = nil, stderr: [UInt8] = [], slurmJob: Int64? = nil) {
            self.slurmJob = slurmJob
            self.name = name
            self.outcome = outcome
            self.reason = reason
            self.exitStatus = exitStatus
            self.signal = signal
            self.attempts = attempts
            self.startedAt = startedAt
            self.durationMS = durationMS
            self.usage = usage
            self.stderr = stderr
        }
    }

    /// One hook run (SPEC §6 `hooks`, §11).
    public struct HookEntry: Sendable, Equatable {
        /// `on_end` or `on_failure`.
        public var name: String
        public var outcome: TaskOutcome
        /// What `waitpid` saw, `nil` when it ended by a signal or never started.
        public var exitStatus: Int32?
        public var durationMS: Int64?

        public init(name: String, outcome: TaskOutcome, exitStatus: Int32?, durationMS: Int64?) {
            self.name = name
            self.outcome = outcome
            self.exitStatus = exitStatus
            self.durationMS = durationMS
        }
    }

    public var id: String
    /// A random 32-hex-digit ID of this run (``JobRecord/newRunID()``).
    public var run: String
    public var name: String
    /// The dropped file's name (`nightly-backup.json`).
    public var file: String
    public var state: JobState
    /// `nil` for a rejected file whose policy could not be read.
    public var policy: GatherPolicy?
    /// The file owner.
    public var uid: UInt32
    /// The owner's primary group: the group of the job directory and files (not written).
    public var gid: UInt32
    /// The owner's user name, `nil` without a passwd entry.
    public var user: String?
    /// The account the tasks ran as; `nil` for a rejected file.
    public var runAs: String?
    public var receivedAt: Timestamp
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp
    /// What the job's cgroup used (the top-level `cpu_usec`, `memory_peak`,
    /// `tasks_peak`, each only when it is known); `nil` where gatherd has no
    /// cgroups or the job never ran.
    public var usage: CgroupUsage?
    /// The compound error line (`failed`) or every validation error (`rejected`); else `nil`.
    public var error: String?
    public var tasks: [TaskEntry]
    /// The job's hook runs, written once they ended; empty: no `hooks` member.
    public var hooks: [HookEntry] = []

    public init(id: String, run: String = JobRecord.newRunID(), name: String, file: String, state: JobState,
                policy: GatherPolicy?, uid: UInt32, gid: UInt32, user: String?, runAs: String?,
                receivedAt: Timestamp, startedAt: Timestamp?, finishedAt: Timestamp = .now(),
                usage: CgroupUsage? = nil, error: String?, tasks: [TaskEntry]) {
        self.id = id
        self.run = run
        self.name = name
        self.file = file
        self.state = state
        self.policy = policy
        self.uid = uid
        self.gid = gid
        self.user = user
        self.runAs = runAs
        self.receivedAt = receivedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.usage = usage
        self.error = error
        self.tasks = tasks
    }

    /// Each task's `stderr_tail` is at most this many bytes (SPEC §6).
    public static let tailLimit = 4096
    /// All tails of one record together are at most this many bytes.
    public static let recordTailLimit = 1 << 20

    /// 16 random bytes as 32 lowercase hex digits.
    public static func newRunID() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(g.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// The directory the record moves to: `done` for `succeeded`, `rejected`, else `failed`.
    public var stateDirectory: SpoolDirectory.Area {
        switch state {
        case .succeeded: return .done
        case .rejected: return .rejected
        case .failed, .cancelled, .interrupted: return .failed
        }
    }

    /// The record as JSON (SPEC §6).
    public var json: JSONValue {
        let tails = StderrTailText.capped(tasks.map { $0.outcome.isError ? $0.stderr : [] },
                                      each: Self.tailLimit, total: Self.recordTailLimit)
        let taskValues: [JSONValue] = tasks.enumerated().map { i, t in
            var m: [(key: String, value: JSONValue)] = [("name", .string(t.name)), ("outcome", .string(t.outcome.rawValue))]
            if let reason = t.reason { m.append(("reason", .string(reason))) }
            if t.outcome == .skipped && t.attempts == 0 {
                m.append(("attempts", .integer(0)))
                return .object(m)
            }
            m.append(("exit_status", t.exitStatus.map { .integer(Int64($0)) } ?? .null))
            m.append(("signal", t.signal.map(JSONValue.string) ?? .null))
            m.append(("attempts", .integer(Int64(t.attempts))))
            m.append(("started_at", t.startedAt.map { .string($0.text) } ?? .null))
            m.append(("duration_ms", t.durationMS.map { .integer($0) } ?? .null))
            m += Self.usageMembers(t.usage)
            if let job = t.slurmJob { m.append(("slurm_job", .integer(job))) }
            m.append(("stderr_tail", .string(tails[i])))
            return .object(m)
        }
        var members: [(key: String, value: JSONValue)] = [
            ("id", .string(id)), ("run", .string(run)), ("name", .string(name)), ("file", .string(file)),
            ("state", .string(state.rawValue)), ("policy", policy.map { .string($0.rawValue) } ?? .null),
            ("uid", .integer(Int64(uid))), ("user", user.map(JSONValue.string) ?? .null),
            ("run_as", runAs.map(JSONValue.string) ?? .null),
            ("received_at", .string(receivedAt.text)), ("started_at", startedAt.map { .string($0.text) } ?? .null),
            ("finished_at", .string(finishedAt.text)),
        ]
        members += Self.usageMembers(usage)
        members += [("error", error.map(JSONValue.string) ?? .null), ("tasks", .array(taskValues))]
        if !hooks.isEmpty {
            members.append(("hooks", .array(hooks.map { hook in
                .object([
                    ("name", .string(hook.name)), ("outcome", .string(hook.outcome.rawValue)),
                    ("exit_status", hook.exitStatus.map { .integer(Int64($0)) } ?? .null),
                    ("duration_ms", hook.durationMS.map { .integer($0) } ?? .null),
                ])
            })))
        }
        return .object(members)
    }

    /// `cpu_usec`, `memory_peak`, `tasks_peak` (SPEC §6), each only when it
    /// is known: absent, not `null`, where the host does not report it.
    static func usageMembers(_ usage: CgroupUsage?) -> [(key: String, value: JSONValue)] {
        guard let usage else { return [] }
        let values: [(String, UInt64?)] = [("cpu_usec", usage.cpuUsec), ("memory_peak", usage.memoryPeak),
                                            ("tasks_peak", usage.tasksPeak)]
        return values.compactMap { key, value in value.map { (key, .integer(Int64(clamping: $0))) } }
    }
}

extension JobRecord {
    /// Reads `result.json` as ``json`` writes it; `nil` if it is not a record
    /// this version wrote.
    ///
    /// Members this version does not write
    /// are passed over, so a newer daemon's record still reads. A member it
    /// does write must have its type, and a time must read back as the same
    /// text: whatever shows a decoded record then prints what is stored.
    /// A `stderr_tail` comes back as the task's ``TaskEntry/stderr``: it was
    /// capped when written, so writing it again keeps it as it is.
    /// - Parameters:
    ///   - json: the record's JSON (``StrictJSONReader``).
    ///   - gid: the submitter's group, which the record does not hold: the
    ///     group of the file it was read from.
    public init?(json: JSONValue, gid: UInt32) {
        typealias M = RecordMember
        guard let id = M.text(json["id"]), let run = M.text(json["run"]), let name = M.text(json["name"]),
              let file = M.text(json["file"]), let state = M.text(json["state"]).flatMap(JobState.init(rawValue:)),
              let policy = M.optional(json["policy"], { M.text($0).flatMap(GatherPolicy.init(rawValue:)) }),
              let uid = M.integer(json["uid"]).flatMap({ UInt32(exactly: $0) }),
              let user = M.optional(json["user"], M.text), let runAs = M.optional(json["run_as"], M.text),
              let receivedAt = M.timestamp(json["received_at"]), let startedAt = M.optional(json["started_at"], M.timestamp),
              let finishedAt = M.timestamp(json["finished_at"]), let usage = M.usage(json),
              let error = M.optional(json["error"], M.text),
              case .array(let taskValues)? = json["tasks"] else { return nil }
        var tasks: [TaskEntry] = []
        for value in taskValues {
            // One task this version cannot read makes the whole record unreadable:
            // leaving it out would show a job with fewer tasks than it had.
            guard let task = TaskEntry(json: value) else { return nil }
            tasks.append(task)
        }
        var hooks: [HookEntry] = []
        if let value = json["hooks"], value != .null {
            guard case .array(let hookValues) = value else { return nil }
            for value in hookValues {
                guard let name = M.text(value["name"]),
                      let outcome = M.text(value["outcome"]).flatMap(TaskOutcome.init(rawValue:)),
                      let exitStatus = M.optional(value["exit_status"], { M.integer($0).flatMap { Int32(exactly: $0) } }),
                      let durationMS = M.optional(value["duration_ms"], M.integer) else { return nil }
                hooks.append(HookEntry(name: name, outcome: outcome, exitStatus: exitStatus, durationMS: durationMS))
            }
        }
        self.init(id: id, run: run, name: name, file: file, state: state, policy: policy, uid: uid, gid: gid,
                  user: user, runAs: runAs, receivedAt: receivedAt, startedAt: startedAt, finishedAt: finishedAt,
                  usage: usage, error: error, tasks: tasks)
        self.hooks = hooks
    }
}

extension JobRecord.TaskEntry {
    /// Reads one element of a record's `tasks`; `nil` if it is not one ``JobRecord/json`` writes.
    /// A `skipped` task that never ran has no `exit_status`…`stderr_tail`: they read as absent.
    public init?(json: JSONValue) {
        typealias M = RecordMember
        guard let name = M.text(json["name"]), let outcome = M.text(json["outcome"]).flatMap(TaskOutcome.init(rawValue:)),
              let reason = M.optional(json["reason"], M.text),
              let attempts = M.integer(json["attempts"]).flatMap({ Int(exactly: $0) }),
              let exitStatus = M.optional(json["exit_status"], { M.integer($0).flatMap { Int32(exactly: $0) } }),
              let signal = M.optional(json["signal"], M.text), let startedAt = M.optional(json["started_at"], M.timestamp),
              let durationMS = M.optional(json["duration_ms"], M.integer), let usage = M.usage(json),
              let tail = M.optional(json["stderr_tail"], M.text),
              let slurmJob = M.optional(json["slurm_job"], M.integer) else { return nil }
        self.init(name: name, outcome: outcome, reason: reason, exitStatus: exitStatus, signal: signal, attempts: attempts,
                  startedAt: startedAt, durationMS: durationMS, usage: usage, stderr: tail.map { Array($0.utf8) } ?? [],
                  slurmJob: slurmJob)
    }
}

/// How the record decoders read a member. A required member reads as `nil`
/// when it is absent or of another type; ``optional(_:_:)`` tells an absent
/// or `null` member (a value of `nil`) from one of the wrong type (`nil`).
enum RecordMember {
    static func text(_ value: JSONValue?) -> String? {
        if case .string(let s)? = value { return s } else { return nil }
    }

    static func integer(_ value: JSONValue?) -> Int64? {
        if case .integer(let i)? = value { return i } else { return nil }
    }

    /// An integer of at least 0.
    static func unsigned(_ value: JSONValue?) -> UInt64? {
        integer(value).flatMap { UInt64(exactly: $0) }
    }

    /// The `cpu_usec`, `memory_peak`, `tasks_peak` members of a record or a
    /// task: `.some(nil)` when none is there, `nil` when one is not a count.
    static func usage(_ object: JSONValue) -> CgroupUsage?? {
        guard let cpu = optional(object["cpu_usec"], unsigned), let memory = optional(object["memory_peak"], unsigned),
              let tasks = optional(object["tasks_peak"], unsigned) else { return nil }
        if cpu == nil && memory == nil && tasks == nil { return .some(nil) }
        return .some(CgroupUsage(cpuUsec: cpu, memoryPeak: memory, tasksPeak: tasks))
    }

    /// A time in the one form ``Timestamp/text`` writes: `Timestamp(text:)`
    /// would also take `2026-02-30…`, which does not read back as written.
    static func timestamp(_ value: JSONValue?) -> Timestamp? {
        guard let s = text(value), let t = Timestamp(text: s), t.text == s else { return nil }
        return t
    }

    /// `.some(nil)` for an absent or `null` member, `.some(value)` for one
    /// `read` accepts, `nil` for any other.
    static func optional<T>(_ value: JSONValue?, _ read: (JSONValue?) -> T?) -> T?? {
        guard let value, value != .null else { return .some(nil) }
        guard let read = read(value) else { return nil }
        return .some(read)
    }
}

/// A wall-clock time in milliseconds since the epoch, written as
/// `2026-11-25T03:00:00.120Z` (UTC, three decimals).
public struct Timestamp: Sendable, Hashable, Comparable {
    public let millisecondsSinceEpoch: Int64
    public init(millisecondsSinceEpoch: Int64) { self.millisecondsSinceEpoch = millisecondsSinceEpoch }

    /// The current time (`CLOCK_REALTIME`).
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(millisecondsSinceEpoch: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.millisecondsSinceEpoch < b.millisecondsSinceEpoch }

    /// `2026-11-25T03:00:00.120Z`
    public var text: String {
        var seconds = time_t(millisecondsSinceEpoch.quotientAndRemainder(dividingBy: 1000).quotient)
        var ms = millisecondsSinceEpoch % 1000
        if ms < 0 { ms += 1000; seconds -= 1 }
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ v: Int32, _ n: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, n - s.count)) + s }
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }

    /// Parses the form ``text`` writes; `nil` for anything else.
    public init?(text: String) {
        let b = Array(text.utf8)
        guard b.count == 24, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A, b[19] == 0x2E, b[23] == 0x5A else { return nil }
        func num(_ r: Range<Int>) -> Int32? { Int32(String(decoding: b[r], as: UTF8.self)) }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13),
              let mi = num(14..<16), let s = num(17..<19), let ms = num(20..<23) else { return nil }
        var t = tm()
        t.tm_year = y - 1900; t.tm_mon = mo - 1; t.tm_mday = d; t.tm_hour = h; t.tm_min = mi; t.tm_sec = s
        let seconds = timegm(&t)
        self.millisecondsSinceEpoch = Int64(seconds) * 1000 + Int64(ms)
    }
}
