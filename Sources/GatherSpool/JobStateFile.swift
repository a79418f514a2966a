import Gather

/// `active/ID/state.json` (SPEC §3): who submitted the job, how often it ran,
/// on which boot, its process groups with start times, and its progress.
/// `gatherctl status` reads it; `docs/state-json.md` documents every field.
public struct JobStateFile: Sendable, Equatable {
    /// Where the job is: `queued` (claimed, not started), `running`, `failing`
    /// (running, an error already seen under `fail-fast`/`cancel-siblings`).
    public enum Phase: String, Sendable {
        case queued
        case running
        case failing
    }

    /// A process group started for a task, to be killed after a crash if it
    /// is still the same process (same boot, same start time).
    public struct ProcessGroup: Sendable, Equatable {
        public var task: String
        /// The group leader's PID, which is also the group ID.
        public var pgid: Int32
        /// Field 22 of `/proc/PID/stat` (clock ticks since boot) of the leader.
        public var startTime: UInt64
        public init(task: String, pgid: Int32, startTime: UInt64) {
            self.task = task
            self.pgid = pgid
            self.startTime = startTime
        }
    }

    /// A Slurm job an attempt of a task runs as (`executor: slurm`, SPEC §12):
    /// recovery cancels it after a crash by this ID, never by its name.
    public struct SlurmJob: Sendable, Equatable {
        public var task: String
        public var attempt: Int
        /// The Slurm job ID.
        public var id: Int64
        public init(task: String, attempt: Int, id: Int64) {
            self.task = task
            self.attempt = attempt
            self.id = id
        }
    }

    /// One task's progress.
    public struct TaskProgress: Sendable, Equatable {
        /// Where a task is; its raw value is the file's `status` string.
        public enum Status: Sendable, Hashable, RawRepresentable {
            /// Not started yet.
            case waiting
            /// An attempt started (its process may already have exited).
            case running
            /// Between attempts. docs/state-json.md lists it, so it reads;
            /// this daemon keeps such a task `running`.
            case retrying
            /// The task's final outcome: `succeeded`, `failed`, `timed-out`…
            case ended(TaskOutcome)

            public init?(rawValue: String) {
                switch rawValue {
                case "waiting": self = .waiting
                case "running": self = .running
                case "retrying": self = .retrying
                default:
                    guard let outcome = TaskOutcome(rawValue: rawValue) else { return nil }
                    self = .ended(outcome)
                }
            }

            public var rawValue: String {
                switch self {
                case .waiting: return "waiting"
                case .running: return "running"
                case .retrying: return "retrying"
                case .ended(let outcome): return outcome.rawValue
                }
            }

            /// The final outcome, `nil` while the task has none.
            public var outcome: TaskOutcome? {
                if case .ended(let outcome) = self { return outcome } else { return nil }
            }
        }

        public var name: String
        public var status: Status
        public var attempts: Int
        /// The running attempt's PID.
        public var pid: Int32?
        public init(name: String, status: Status, attempts: Int = 0, pid: Int32? = nil) {
            self.name = name
            self.status = status
            self.attempts = attempts
            self.pid = pid
        }
    }

    public var id: String
    public var file: String
    public var name: String
    /// `nil` until the file was validated.
    public var policy: GatherPolicy?
    /// The submitter: the file owner at the claim.
    public var uid: UInt32
    /// The submitter's primary group (the group of the job's directory and files).
    public var gid: UInt32
    public var user: String?
    public var runAs: String?
    public var phase: Phase
    public var receivedAt: Timestamp
    /// When the current run started.
    public var startedAt: Timestamp?
    /// How many runs started (0 = never started; at most 3 for `restartable`).
    public var runs: Int
    /// The boot the current run started on (32 hex digits).
    public var bootID: String?
    /// The current run's ID (the record's `run`): what its Slurm jobs'
    /// comments carry, so recovery can find those whose ID it never learned.
    public var run: String?
    public var processGroups: [ProcessGroup]
    /// The Slurm jobs this run's attempts started, in the order gatherd learned them.
    public var slurmJobs: [SlurmJob] = []
    public var tasks: [TaskProgress]

    public init(id: String, file: String, name: String, policy: GatherPolicy?, uid: UInt32, gid: UInt32,
                user: String?, runAs: String?, phase: Phase = .queued, receivedAt: Timestamp,
                startedAt: Timestamp? = nil, runs: Int = 0, bootID: String? = nil,
                processGroups: [ProcessGroup] = [], tasks: [TaskProgress] = []) {
        self.id = id
        self.file = file
        self.name = name
        self.policy = policy
        self.uid = uid
        self.gid = gid
        self.user = user
        self.runAs = runAs
        self.phase = phase
        self.receivedAt = receivedAt
        self.startedAt = startedAt
        self.runs = runs
        self.bootID = bootID
        self.processGroups = processGroups
        self.tasks = tasks
    }

    /// The file's JSON.
    public var json: JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        return .object([
            ("id", .string(id)), ("file", .string(file)), ("name", .string(name)),
            ("policy", opt(policy?.rawValue)), ("uid", .integer(Int64(uid))), ("gid", .integer(Int64(gid))),
            ("user", opt(user)), ("run_as", opt(runAs)), ("state", .string(phase.rawValue)),
            ("received_at", .string(receivedAt.text)), ("started_at", opt(startedAt?.text)),
            ("runs", .integer(Int64(runs))), ("run", opt(run)), ("boot_id", opt(bootID)),
            ("process_groups", .array(processGroups.map {
                .object([("task", .string($0.task)), ("pgid", .integer(Int64($0.pgid))), ("start_time", .integer(Int64(bitPattern: $0.startTime)))])
            })),
            ("slurm_jobs", .array(slurmJobs.map {
                .object([("task", .string($0.task)), ("attempt", .integer(Int64($0.attempt))), ("slurm_job", .integer($0.id))])
            })),
            ("tasks", .array(tasks.map {
                .object([("name", .string($0.name)), ("status", .string($0.status.rawValue)),
                         ("attempts", .integer(Int64($0.attempts))), ("pid", $0.pid.map { .integer(Int64($0)) } ?? .null)])
            })),
        ])
    }

    /// Reads `state.json`; `nil` if it is not one this version wrote.
    public init?(json: JSONValue) {
        func str(_ v: JSONValue?) -> String? { if case .string(let s)? = v { return s } else { return nil } }
        func int(_ v: JSONValue?) -> Int64? { if case .integer(let i)? = v { return i } else { return nil } }
        guard let id = str(json["id"]), let file = str(json["file"]), let name = str(json["name"]),
              let uid = int(json["uid"]), let gid = int(json["gid"]),
              let phase = str(json["state"]).flatMap(Phase.init(rawValue:)),
              let received = str(json["received_at"]).flatMap(Timestamp.init(text:)),
              let runs = int(json["runs"]),
              case .array(let groups)? = json["process_groups"], case .array(let tasks)? = json["tasks"],
              let uid32 = UInt32(exactly: uid), let gid32 = UInt32(exactly: gid) else { return nil }
        self.init(id: id, file: file, name: name, policy: str(json["policy"]).flatMap(GatherPolicy.init(rawValue:)),
                  uid: uid32, gid: gid32, user: str(json["user"]), runAs: str(json["run_as"]), phase: phase,
                  receivedAt: received, startedAt: str(json["started_at"]).flatMap(Timestamp.init(text:)),
                  runs: Int(runs), bootID: str(json["boot_id"]))
        self.run = str(json["run"])  // absent in a file an older version wrote
        self.processGroups = groups.compactMap { g in
            guard let task = str(g["task"]), let pgid = int(g["pgid"]), let st = int(g["start_time"]),
                  let pgid32 = Int32(exactly: pgid) else { return nil }
            return ProcessGroup(task: task, pgid: pgid32, startTime: UInt64(bitPattern: st))
        }
        // Absent in a file an older version wrote.
        if case .array(let jobs)? = json["slurm_jobs"] {
            self.slurmJobs = jobs.compactMap { j in
                guard let task = str(j["task"]), let attempt = int(j["attempt"]), let id = int(j["slurm_job"]) else { return nil }
                return SlurmJob(task: task, attempt: Int(attempt), id: id)
            }
        }
        self.tasks = tasks.compactMap { t in
            guard let name = str(t["name"]), let status = str(t["status"]).flatMap(TaskProgress.Status.init(rawValue:)),
                  let attempts = int(t["attempts"]) else { return nil }
            return TaskProgress(name: name, status: status, attempts: Int(attempts), pid: int(t["pid"]).flatMap { Int32(exactly: $0) })
        }
    }
}
