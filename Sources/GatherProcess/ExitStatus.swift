import GatherSystem
import Glibc

/// How a process ended, as `waitid` saw it.
public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    /// It called `exit` with this status (0 … 255).
    case exited(Int32)
    /// A signal ended it.
    case signaled(Int32)

    /// The exit status, or nil when a signal ended it.
    public var exitCode: Int32? {
        if case .exited(let code) = self { return code }
        return nil
    }

    /// The signal's name in `SIGKILL` form, or nil when it exited.
    public var signalName: String? {
        if case .signaled(let signal) = self { return ExitStatus.signalName(signal) }
        return nil
    }

    /// SPEC §5 text: `exited with status 3`, `killed by signal SIGKILL`.
    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let signal): return "killed by signal \(ExitStatus.signalName(signal))"
        }
    }

    private static let names = [
        "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
        "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
        "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
        "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ]

    /// The Linux name of a signal number (`9` → `SIGKILL`, `34` → `SIGRTMIN`, `36` → `SIGRTMIN+2`).
    public static func signalName(_ signal: Int32) -> String {
        if signal >= 1, Int(signal) <= names.count { return names[Int(signal) - 1] }
        // glibc reserves 32 and 33; SIGRTMIN as programs see it is 34.
        if signal == 34 { return "SIGRTMIN" }
        if signal > 34, signal < 64 { return "SIGRTMIN+\(signal - 34)" }
        if signal == 64 { return "SIGRTMAX" }
        return "SIG\(signal)"
    }
}

/// Everything the record needs about one process that ran (SPEC §6).
public struct ProcessExit: Sendable, Hashable {
    /// The process ID (also its process group and session ID).
    public let pid: Int32
    /// What `waitid` saw.
    public let status: ExitStatus
    /// The last 4 KiB of stderr as the process wrote them; the record cuts
    /// them at a character boundary and replaces invalid UTF-8 (SPEC §6).
    public let stderrTail: [UInt8]
    /// Run time from spawn to exit.
    public let duration: Duration
    /// What the task used so far, this attempt and the ones before (read
    /// from its cgroup once empty); nil without cgroups.
    public let usage: CgroupUsage?
    /// The `memory_max` (as `512M`) inside which the OOM killer ended it: set
    /// when it died of SIGKILL and its cgroup's `oom_kill` count grew.
    public let oomLimit: String?
    /// The ID of the job an ``AttemptExecutor`` ran the attempt as (a Slurm
    /// job ID), when one was learned; nil for a local attempt.
    public let executorJob: Int64?

    public init(
        pid: Int32, status: ExitStatus, stderrTail: [UInt8], duration: Duration, usage: CgroupUsage? = nil,
        oomLimit: String? = nil, executorJob: Int64? = nil
    ) {
        self.executorJob = executorJob
        self.pid = pid
        self.status = status
        self.stderrTail = stderrTail
        self.duration = duration
        self.usage = usage
        self.oomLimit = oomLimit
    }

    /// The error line's text after `name: ` (SPEC §5): the status, or
    /// `killed by the OOM killer (memory_max 512M)`.
    public var errorText: String {
        if let oomLimit, status == .signaled(SIGKILL) { return "killed by the OOM killer (memory_max \(oomLimit))" }
        return status.description
    }
}
