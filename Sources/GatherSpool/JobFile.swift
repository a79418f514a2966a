import Gather
import GatherSystem

/// A valid job file (SPEC §4), as the daemon runs it. Made only by
/// ``JobFileValidator``; every default of the SPEC is already filled in
/// except those the daemon decides (`name` → the job ID, `kill_grace` → `--kill-grace`).
public struct JobFile: Sendable {
    /// `name`; `nil` means the job ID.
    public var name: String?
    public var policy: GatherPolicy
    /// `max_parallel`; `nil` means no limit.
    public var maxParallel: Int?
    /// `timeout`: the deadline of the whole job.
    public var timeout: Duration?
    /// `kill_grace`; `nil` means the daemon's `--kill-grace`.
    public var killGrace: Duration?
    /// `kill_grace` and `--kill-grace` when neither is given (SPEC §4, §9).
    public static let defaultKillGrace = Duration.seconds(5)
    /// The largest `kill_grace` and `--kill-grace` (SPEC §4: `5m`).
    public static let maxKillGrace = Duration.seconds(300)
    /// `retry_delay_max` when not given (SPEC §4: `10m`).
    public static let defaultRetryDelayMax = Duration.seconds(600)
    /// `env`, in file order.
    public var env: [(key: String, value: String)]
    /// `cwd`; `nil` means `/`.
    public var cwd: String?
    /// `user`; `nil` means the file owner.
    public var user: String?
    public var output: Output
    public var restartable: Bool
    /// `memory_max`, `cpu_max`, `tasks_max` of the whole job (its cgroup, SPEC §11).
    public var limits = ResourceLimits()
    /// `on_end`: argv of the hook run after every record of the job (SPEC §11); nil: none.
    public var onEnd: [String]?
    /// `on_failure`: argv of the hook run after a `failed` record (SPEC §11); nil: none.
    public var onFailure: [String]?
    /// `executor`: where the tasks run (SPEC §12); a task's own wins.
    public var executor: Executor = .local
    /// `slurm`: the options of `executor: slurm`; a task's own keys win key by key.
    public var slurm = SlurmOptions()
    public var tasks: [Task]

    /// Where a task's attempts run (SPEC §12).
    public enum Executor: String, Sendable, CaseIterable {
        /// A child process of gatherd on this host.
        case local
        /// A Slurm job step through `srun`, itself a child of gatherd.
        case slurm
    }

    /// The `slurm` object (SPEC §4, §12): each key is an `srun` option; nil: not given.
    public struct SlurmOptions: Sendable, Equatable {
        /// `--partition`
        public var partition: String?
        /// `--account`
        public var account: String?
        /// `--qos`
        public var qos: String?
        /// `--constraint`
        public var constraint: String?
        /// `--cpus-per-task`, at least 1.
        public var cpusPerTask: Int?
        /// `--mem`, in bytes.
        public var mem: UInt64?
        /// `--time-min`.
        public var timeMin: Duration?

        public init() {}

        /// These options with `override`'s given keys in their place (a task's over the job's).
        public func overridden(by override: SlurmOptions) -> SlurmOptions {
            var merged = self
            merged.partition = override.partition ?? partition
            merged.account = override.account ?? account
            merged.qos = override.qos ?? qos
            merged.constraint = override.constraint ?? constraint
            merged.cpusPerTask = override.cpusPerTask ?? cpusPerTask
            merged.mem = override.mem ?? mem
            merged.timeMin = override.timeMin ?? timeMin
            return merged
        }
    }

    /// Where task output goes (SPEC §7).
    public enum Output: String, Sendable, CaseIterable {
        case journal
        case discard
    }

    /// One task of the job.
    public struct Task: Sendable {
        public var name: String
        /// argv; `command[0]` is absolute or looked up in `PATH`.
        public var command: [String]
        /// Per-attempt timeout.
        public var timeout: Duration?
        public var retries: Int
        /// Before the first retry, doubled for each next one (at most `retryDelayMax`).
        public var retryDelay: Duration
        /// `retry_delay_max`: the cap of the doubled delay.
        public var retryDelayMax: Duration = JobFile.defaultRetryDelayMax
        /// `retry_exit_codes`: only these exit statuses are retried; nil: any error.
        public var retryExitCodes: [Int32]?
        /// `finally`: a clean-up task (SPEC §2).
        public var isFinally = false
        public var successExitCodes: [Int32]
        /// The task's own `env`, in file order; added after the job's.
        public var env: [(key: String, value: String)]
        /// The task's `cwd`; `nil` means the job's.
        public var cwd: String?
        public var after: [String]
        /// `memory_max`, `cpu_max`, `tasks_max` of this task (its own cgroup, SPEC §11).
        public var limits = ResourceLimits()
        /// The task's `executor`; nil: the job's.
        public var executor: Executor?
        /// The task's `slurm` keys, each over the job's key of the same name.
        public var slurm = SlurmOptions()
        /// Where each name of `after` stands in the file's list, which may
        /// hold entries that are not names: the validator's problems name it.
        var afterPositions: [Int] = []
    }

    /// The name messages show: `name`, else the job ID.
    public func displayName(id: String) -> String { name ?? id }

    /// The working directory of `task` (its own, else the job's, else `/`).
    public func workingDirectory(of task: Task) -> String { task.cwd ?? cwd ?? "/" }

    /// Where `task` runs: its `executor`, else the job's.
    public func executor(of task: Task) -> Executor { task.executor ?? executor }

    /// The `slurm` options of `task`: the job's, each key the task gives replaced.
    public func slurmOptions(of task: Task) -> SlurmOptions { slurm.overridden(by: task.slurm) }

    /// Whether any task runs with `executor: slurm`.
    public var usesSlurm: Bool { tasks.contains { executor(of: $0) == .slurm } }

    /// The job's `env` then the task's, later keys winning (SPEC §4 order).
    public func environment(of task: Task) -> [(key: String, value: String)] {
        var merged: [(key: String, value: String)] = []
        for pair in env + task.env {
            if let i = merged.firstIndex(where: { $0.key == pair.key }) { merged[i] = pair } else { merged.append(pair) }
        }
        return merged
    }
}

/// One validation problem of a job file: the key path and what is wrong
/// (`tasks[2].command: must be a non-empty array of strings`). Problems of the
/// whole file (malformed JSON, the owner) have an empty path.
public struct JobFileProblem: Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let message: String
    /// Control characters in either (a key or a task name quoted from the
    /// file) are written as escapes (`\n`, `\u{1B}`): the line goes into
    /// gatherd's own journal entries and stderr, where a newline from a job
    /// file could otherwise forge a line that reads as gatherd's.
    public init(path: String, message: String) {
        self.path = Self.escapingControls(path)
        self.message = Self.escapingControls(message)
    }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }

    /// `text` with C0 controls, DEL and C1 controls escaped, as problems write it.
    public static func escapingControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where isControl(scalar): out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
