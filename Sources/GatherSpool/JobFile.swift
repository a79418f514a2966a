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
    public var tasks: [Task]

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
        /// Before the first retry, doubled for each next one (at most 10 min).
        public var retryDelay: Duration
        public var successExitCodes: [Int32]
        /// The task's own `env`, in file order; added after the job's.
        public var env: [(key: String, value: String)]
        /// The task's `cwd`; `nil` means the job's.
        public var cwd: String?
        public var after: [String]
        /// `memory_max`, `cpu_max`, `tasks_max` of this task (its own cgroup, SPEC §11).
        public var limits = ResourceLimits()
        /// Where each name of `after` stands in the file's list, which may
        /// hold entries that are not names: the validator's problems name it.
        var afterPositions: [Int] = []
    }

    /// The name messages show: `name`, else the job ID.
    public func displayName(id: String) -> String { name ?? id }

    /// The working directory of `task` (its own, else the job's, else `/`).
    public func workingDirectory(of task: Task) -> String { task.cwd ?? cwd ?? "/" }

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
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
