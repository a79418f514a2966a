import Gather
import GatherJournal
import GatherSpool
import GatherSystem

/// Everything `gatherd` is told on its command line (SPEC §9), with the
/// SPEC's defaults.
public struct DaemonConfiguration: Sendable, Equatable {
    /// The spool directory (`--spool`, else `$GATHER_SPOOL`, else `/var/spool/gatherd`).
    public var spool: String = "/var/spool/gatherd"
    /// Jobs running at once (`--max-jobs`).
    public var maxJobs = 16
    /// Tasks of all jobs running at once, shared round-robin (`--max-tasks`).
    public var maxTasks = 512
    /// Jobs of one user running at once (`--max-jobs-per-user`).
    public var maxJobsPerUser = 4
    /// Files of one user waiting or running; more are rejected (`--max-queued-per-user`).
    public var maxQueuedPerUser = 10_000
    /// Default SIGTERM → SIGKILL grace (`--kill-grace`).
    public var killGrace: Duration = JobFile.defaultKillGrace
    /// Age after which finished job directories are deleted; `nil` keeps them (`--retain 0`).
    public var retain: Duration? = .seconds(30 * 86_400)
    /// Where journal events go (`--log-target`, SPEC §7): the journal writer's own setting.
    public var logTarget: LogTarget = .auto
    /// Log successful task ends too (`--log-level debug`).
    public var debug = false
    /// Exit 0 once nothing is claimable, queued or running (`--exit-when-idle`).
    public var exitWhenIdle = false
    /// Where jobs' cgroups go (`--cgroup auto|off|PATH`, SPEC §11).
    public var cgroup: CgroupSetting = .auto
    /// Where the Prometheus text is kept (`--metrics-file`); nil: no metrics.
    public var metricsFile: String?
    /// The administrator's hook for every `failed` job (`--on-failure`, SPEC §9):
    /// run through `/bin/sh -c` as the daemon's user; nil: none.
    public var onFailure: String?

    public init() {}

    /// The usage line printed with a usage error.
    public static let usage = """
        usage: gatherd [--spool DIR] [--max-jobs N] [--max-tasks N] [--max-jobs-per-user N]
                       [--max-queued-per-user N] [--kill-grace DUR] [--retain DUR]
                       [--log-target auto|journal|stderr] [--log-level info|debug] [--exit-when-idle]
                       [--cgroup auto|off|PATH] [--metrics-file PATH] [--on-failure COMMAND]
        """

    /// Parses the arguments (without the program name). `--flag value` and
    /// `--flag=value` are both accepted.
    /// - Parameters:
    ///   - arguments: the command line after the program name.
    ///   - environment: for `GATHER_SPOOL`.
    public static func parse(_ arguments: [String], environment: [String: String] = [:]) throws(UsageError) -> DaemonConfiguration {
        var config = DaemonConfiguration()
        if let spool = environment["GATHER_SPOOL"], !spool.isEmpty { config.spool = spool }
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            var flag = argument
            var inline: String?
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                flag = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            func value() throws(UsageError) -> String {
                if let inline { return inline }
                guard let next = rest.popFirst() else { throw UsageError("\(flag) needs a value") }
                return next
            }
            func count(minimum: Int = 1) throws(UsageError) -> Int {
                let text = try value()
                guard let number = Int(text), number >= minimum else {
                    throw UsageError("\(flag): \"\(text)\" is not a whole number of at least \(minimum)")
                }
                return number
            }
            func duration() throws(UsageError) -> Duration {
                let text = try value()
                guard let parsed = DurationText.parse(text) ?? Double(text).flatMap(DurationText.fromSeconds) else {
                    throw UsageError("\(flag): \"\(text)\" is not a duration (like 250ms, 5s, 1h30m)")
                }
                return parsed
            }
            switch flag {
            case "--spool":
                config.spool = try value()
                guard config.spool.hasPrefix("/") || !config.spool.isEmpty else { throw UsageError("--spool needs a directory") }
            case "--max-jobs": config.maxJobs = try count()
            case "--max-tasks": config.maxTasks = try count()
            case "--max-jobs-per-user": config.maxJobsPerUser = try count()
            case "--max-queued-per-user": config.maxQueuedPerUser = try count()
            case "--kill-grace":
                config.killGrace = try duration()
                guard config.killGrace <= JobFile.maxKillGrace else { throw UsageError("--kill-grace: at most 5m") }
            case "--retain":
                let retain = try duration()
                config.retain = retain == .zero ? nil : retain
            case "--log-target":
                let text = try value()
                guard let target = LogTarget(rawValue: text) else {
                    let names = LogTarget.allCases.map(\.rawValue).joined(separator: ", ")
                    throw UsageError("--log-target: \"\(text)\" is not one of \(names)")
                }
                config.logTarget = target
            case "--log-level":
                switch try value() {
                case "info": config.debug = false
                case "debug": config.debug = true
                case let other: throw UsageError("--log-level: \"\(other)\" is not one of info, debug")
                }
            case "--cgroup":
                let text = try value()
                guard let setting = CgroupSetting(text) else {
                    throw UsageError("--cgroup: \"\(text)\" is not auto, off or an absolute path")
                }
                config.cgroup = setting
            case "--metrics-file":
                let path = try value()
                guard !path.isEmpty, !path.hasSuffix("/") else { throw UsageError("--metrics-file needs a file name") }
                config.metricsFile = path
            case "--on-failure":
                let command = try value()
                guard !command.isEmpty, !command.utf8.contains(0) else { throw UsageError("--on-failure needs a command") }
                config.onFailure = command
            case "--exit-when-idle":
                guard inline == nil else { throw UsageError("--exit-when-idle takes no value") }
                config.exitWhenIdle = true
            default:
                throw UsageError("unknown argument \"\(argument)\"")
            }
        }
        return config
    }
}

/// A bad command line: the message names the flag and what is wrong.
public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
