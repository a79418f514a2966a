import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Gather
import GatherCommandLine
import GatherJournal
import GatherSpool
import GatherSystem

/// gatherd's command line (SPEC §9) on swift-argument-parser: the help, the
/// manual page gatherd(8) and the shell completions all come from these
/// declarations. ``configuration(environment:)`` turns it into the
/// ``DaemonConfiguration`` the daemon runs with.
public struct GatherdCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gatherd",
        abstract: "The job supervisor daemon: runs the job files dropped into its spool.",
        discussion: """
            gatherd watches the spool's incoming/ directory. For each job file it starts every \
            task as a child process, gathers every outcome under the job's failure policy, writes \
            a result record (done/, failed/ or rejected/) and logs to the systemd journal: one \
            compound error entry per failed job names every failure. Job files are described in \
            gatherd.job(5); users submit and follow them with gatherctl(1).

            It runs as a systemd service of Type=notify (READY=1 after recovery and the first \
            scan, STATUS= kept current, WATCHDOG=1). SIGTERM or SIGINT: stop claiming, cancel the \
            running jobs (SIGTERM to their tasks, SIGKILL after their grace), record them \
            interrupted and exit 0. SIGHUP: rescan the spool. The daemon holds an flock on the \
            spool directory: a second gatherd on the same spool refuses to start.

            Exit status: 0 after a clean stop, 1 when it cannot start (an unsafe spool, a spool \
            in use by another gatherd), 2 for a usage error.
            """,
        version: GatherVersion.current
    )

    @Option(help: ArgumentHelp("The spool directory (default: $GATHER_SPOOL, else /var/spool/gatherd).", valueName: "dir"),
            completion: .directory)
    var spool: String?

    @Option(help: ArgumentHelp("Jobs that run at once; waiting jobs start in arrival order.", valueName: "n"))
    var maxJobs = 16

    @Option(help: ArgumentHelp("Tasks of all jobs that run at once, shared round-robin among the running jobs.", valueName: "n"))
    var maxTasks = 512

    @Option(help: ArgumentHelp("Jobs of one user that run at once.", valueName: "n"))
    var maxJobsPerUser = 4

    @Option(help: ArgumentHelp("Files of one user waiting or running; more are rejected.", valueName: "n"))
    var maxQueuedPerUser = 10_000

    @Option(help: ArgumentHelp("The default kill_grace: SIGTERM to SIGKILL (like 250ms, 5s; at most 5m).", valueName: "duration"))
    var killGrace = "5s"

    @Option(help: ArgumentHelp("Delete finished job directories this long after they end (720h: 30 days); 0 keeps them.", valueName: "duration"))
    var retain = "720h"

    @Option(help: ArgumentHelp("Where gatherd logs: the journal if its socket exists (auto), the journal, or stderr.",
                               valueName: "auto|journal|stderr"),
            completion: .list(LogTarget.allCases.map(\.rawValue)))
    var logTarget = LogTarget.auto.rawValue

    @Option(help: ArgumentHelp("debug also logs every task that succeeds.", valueName: "info|debug"),
            completion: .list(["info", "debug"]))
    var logLevel = "info"

    @Flag(help: "Exit 0 once no file waits in incoming/ and no job is queued or running (batch use, tests).")
    var exitWhenIdle = false

    @Option(help: ArgumentHelp("Where the jobs' cgroups go: found from the daemon's own cgroup (auto), none (off), or this cgroup2 directory.",
                               valueName: "auto|off|path"))
    var cgroup = "auto"

    @Option(help: ArgumentHelp("Keep Prometheus text metrics in this file (for node_exporter's textfile collector).", valueName: "path"),
            completion: .file())
    var metricsFile: String?

    @Option(help: ArgumentHelp("Run this through /bin/sh -c for every job that failed, as the daemon's user (e.g. to send mail).",
                               valueName: "command"))
    var onFailure: String?

    public init() {}

    /// Checks every value as the daemon will use it, so that a bad one is a
    /// usage error (exit 2) naming the flag.
    public func validate() throws {
        _ = try configuration(environment: [:])
    }

    /// `path` made absolute against the working directory (unchanged if it is
    /// absolute, or if the working directory cannot be read).
    static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let directory = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var relative = Substring(path)
        while relative.hasPrefix("./") { relative = relative.dropFirst(2) }
        if relative == "." || relative.isEmpty { return directory }
        return directory == "/" ? "/" + relative : directory + "/" + relative
    }

    /// The daemon's configuration.
    /// - Parameter environment: for `GATHER_SPOOL` when `--spool` is not given.
    /// - Throws: a `ValidationError` naming the flag and what is wrong with its value.
    public func configuration(environment: [String: String]) throws(ValidationError) -> DaemonConfiguration {
        var config = DaemonConfiguration()
        if let spool {
            guard !spool.isEmpty else { throw ValidationError("--spool needs a directory") }
            config.spool = spool
        } else if let spool = environment["GATHER_SPOOL"], !spool.isEmpty {
            config.spool = spool
        }
        // Absolute from here on: the spool's paths reach processes that run
        // elsewhere (a hook's GATHER_RECORD, in the job's working directory).
        config.spool = Self.absolute(config.spool)
        func count(_ value: Int, _ flag: String) throws(ValidationError) -> Int {
            guard value >= 1 else { throw ValidationError("\(flag): \(value) is not a whole number of at least 1") }
            return value
        }
        config.maxJobs = try count(maxJobs, "--max-jobs")
        config.maxTasks = try count(maxTasks, "--max-tasks")
        config.maxJobsPerUser = try count(maxJobsPerUser, "--max-jobs-per-user")
        config.maxQueuedPerUser = try count(maxQueuedPerUser, "--max-queued-per-user")
        config.killGrace = try Self.duration(killGrace, "--kill-grace")
        guard config.killGrace <= JobFile.maxKillGrace else { throw ValidationError("--kill-grace: at most 5m") }
        let retain = try Self.duration(retain, "--retain")
        config.retain = retain == .zero ? nil : retain
        guard let target = LogTarget(rawValue: logTarget) else {
            let names = LogTarget.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("--log-target: \"\(logTarget)\" is not one of \(names)")
        }
        config.logTarget = target
        switch logLevel {
        case "info": config.debug = false
        case "debug": config.debug = true
        default: throw ValidationError("--log-level: \"\(logLevel)\" is not one of info, debug")
        }
        guard let setting = CgroupSetting(cgroup) else {
            throw ValidationError("--cgroup: \"\(cgroup)\" is not auto, off or an absolute path")
        }
        config.cgroup = setting
        if let metricsFile {
            guard !metricsFile.isEmpty, !metricsFile.hasSuffix("/") else { throw ValidationError("--metrics-file needs a file name") }
            config.metricsFile = metricsFile
        }
        if let onFailure {
            guard !onFailure.isEmpty, !onFailure.utf8.contains(0) else { throw ValidationError("--on-failure needs a command") }
            config.onFailure = onFailure
        }
        config.exitWhenIdle = exitWhenIdle
        return config
    }

    /// `5s`, `1h30m`, or a number of seconds (`0.25`).
    private static func duration(_ text: String, _ flag: String) throws(ValidationError) -> Duration {
        guard let parsed = DurationText.parse(text) ?? Double(text).flatMap(DurationText.fromSeconds) else {
            throw ValidationError("\(flag): \"\(text)\" is not a duration (like 250ms, 5s, 1h30m)")
        }
        return parsed
    }
}

extension DaemonConfiguration {
    /// What gatherd's command line comes to: the configuration to run with,
    /// or an exit status once help, the version, a completion script or a
    /// usage error (exit 2) is printed.
    public enum CommandLineOutcome: Sendable {
        /// Run the daemon with this configuration.
        case run(DaemonConfiguration)
        /// Exit with this status: what there was to say is printed.
        case exit(Int32)
    }

    /// Parses gatherd's arguments (without the program name).
    /// - Parameters:
    ///   - arguments: the command line after the program name.
    ///   - environment: for `GATHER_SPOOL`.
    public static func commandLine(_ arguments: [String], environment: [String: String]) -> CommandLineOutcome {
        switch CommandLineParsing.parse(GatherdCommand.self, arguments) {
        case .exit(let status):
            return .exit(status)
        case .run(let command):
            guard let command = command as? GatherdCommand else { return .exit(CommandLineParsing.usageStatus) }
            do {
                return .run(try command.configuration(environment: environment))
            } catch {
                return .exit(CommandLineParsing.report(error, of: GatherdCommand.self))
            }
        }
    }
}
