import GatherSystem
import Glibc

/// The account a task runs as (SPEC §8). The spool layer looks it up; the
/// launcher only switches to it, and only when the daemon is root and the
/// identity differs from the daemon's own.
public struct ProcessIdentity: Sendable, Hashable {
    public var uid: uid_t
    /// Primary group.
    public var gid: gid_t
    /// Supplementary groups (as `getgrouplist` gives them).
    public var groups: [gid_t]
    /// The user name, for error lines (`… (user alice)`); the uid when nil.
    public var name: String?

    public init(uid: uid_t, gid: gid_t, groups: [gid_t], name: String? = nil) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.name = name
    }
}

/// A line the child appends to a log just before its first `execve`
/// (docs/state-json.md, `state.log`): `prefix` (up to and including `"pgid":`),
/// then `PID,"start_time":TICKS}` and a newline, in one `write(2)` on `fd`,
/// which must be open with `O_APPEND|O_CLOEXEC` and stay open until the spawn
/// returns. A daemon killed at any moment thus leaves the new process group
/// in the log before the task runs anything, where recovery finds and stops
/// it. Should the exec fail, the child appends `exitPrefix` (up to
/// `"pgid":`), `PID}` and a newline: the group is gone.
public struct SpawnRecord: Sendable {
    public var fd: Int32
    public var prefix: [UInt8]
    public var exitPrefix: [UInt8]
    public init(fd: Int32, prefix: [UInt8], exitPrefix: [UInt8]) {
        self.fd = fd
        self.prefix = prefix
        self.exitPrefix = exitPrefix
    }
}

/// One process to start.
public struct ProcessSpec: Sendable {
    /// argv; `command[0]` absolute, relative with a `/`, or looked up in the
    /// `PATH` of `environment` (no shell).
    public var command: [String]
    /// The exact environment, `KEY=value` entries (see ``TaskEnvironment``).
    public var environment: [String]
    /// Working directory (SPEC default `/`).
    public var cwd: String
    /// Run as this account; nil runs as the daemon.
    public var identity: ProcessIdentity?
    /// Where the child records its process group before it runs anything; nil: nowhere.
    public var record: SpawnRecord?
    /// The cgroup the process starts in (`CLONE_INTO_CGROUP`), with
    /// everything it starts; nil: the daemon's own (process groups only).
    public var cgroup: Cgroup?

    public init(
        command: [String], environment: [String], cwd: String = "/", identity: ProcessIdentity? = nil,
        record: SpawnRecord? = nil, cgroup: Cgroup? = nil
    ) {
        self.cgroup = cgroup
        self.command = command
        self.environment = environment
        self.cwd = cwd
        self.identity = identity
        self.record = record
    }

    /// The `PATH` the command is looked up in: the environment's, else the SPEC default.
    var searchPath: String {
        for entry in environment.reversed() where entry.hasPrefix("PATH=") {
            return String(entry.dropFirst(5))
        }
        return TaskEnvironment.defaultPath
    }
}

/// The exact task environment of SPEC §4, built from plain values.
///
/// Order: `PATH`, `HOME`, `USER`, `LOGNAME`, `SHELL`, `GATHER_JOB`,
/// `GATHER_TASK`, `GATHER_ATTEMPT`, then the job's `env`, then the task's
/// `env`. A later key replaces an earlier one in place, so every name appears
/// once.
public struct TaskEnvironment: Sendable, Hashable {
    /// `PATH` of every task (SPEC §4).
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    public var user: String
    public var home: String
    public var shell: String
    /// The job's ID (`GATHER_JOB`).
    public var job: String
    /// The task's name (`GATHER_TASK`).
    public var task: String
    /// The job's `env`, in file order.
    public var jobEnvironment: [(key: String, value: String)]
    /// The task's `env`, in file order.
    public var taskEnvironment: [(key: String, value: String)]

    public init(
        user: String, home: String, shell: String, job: String, task: String,
        jobEnvironment: [(key: String, value: String)] = [], taskEnvironment: [(key: String, value: String)] = []
    ) {
        self.user = user
        self.home = home
        self.shell = shell
        self.job = job
        self.task = task
        self.jobEnvironment = jobEnvironment
        self.taskEnvironment = taskEnvironment
    }

    /// The `KEY=value` entries for attempt `attempt` (1 for the first).
    public func entries(attempt: Int) -> [String] {
        var keys: [String] = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "GATHER_JOB", "GATHER_TASK", "GATHER_ATTEMPT"]
        var values: [String: String] = [
            "PATH": Self.defaultPath, "HOME": home, "USER": user, "LOGNAME": user, "SHELL": shell,
            "GATHER_JOB": job, "GATHER_TASK": task, "GATHER_ATTEMPT": String(attempt),
        ]
        for (key, value) in jobEnvironment + taskEnvironment {
            if values.updateValue(value, forKey: key) == nil { keys.append(key) }
        }
        return keys.map { "\($0)=\(values[$0]!)" }
    }

    public static func == (lhs: TaskEnvironment, rhs: TaskEnvironment) -> Bool {
        lhs.entries(attempt: 1) == rhs.entries(attempt: 1)
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(entries(attempt: 1)) }
}
