import ArgumentParser
import Gather
import GatherSpool

// gatherctl's subcommands as the parser declares them (SPEC §10): their
// operands, options and help. Each hands over to the command that does the
// work (SubmitCommand, StatusCommand, …).

struct SubmitSubcommand: CtlSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Validate job files and drop them into the spool.",
        discussion: """
            All or nothing: every file is validated first, then each is written to incoming/ \
            under an ID free in every spool directory (the file's name without .json, else that \
            plus - and 8 hex digits), and the IDs are printed. With --wait, the jobs are followed \
            until their records exist and the command exits with the code of the worst outcome; \
            when no gatherd serves the spool it says so and exits 2 (on a terminal it keeps \
            waiting), leaving the files in incoming/ for the next daemon.
            """
    )

    @OptionGroup var options: CtlOptions

    @Flag(help: "Follow the jobs until they end; print each outcome and compound error.")
    var wait = false

    @Option(help: ArgumentHelp("The job's ID (one file only).", valueName: "id"))
    var id: String?

    @Argument(help: ArgumentHelp("Job files (gatherd.job(5)); - reads stdin.", valueName: "file"),
              completion: .file(extensions: ["json"]))
    var files: [String]

    func validate() throws {
        try CtlOperand.files(files)
        if let id {
            guard files.count == 1 else { throw ValidationError("--id needs exactly one file") }
            guard JobIDText.isValid(id) else { throw ValidationError("--id \(id): must match ^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$") }
        }
    }

    func execute(_ context: CtlContext) throws(CtlError) -> CtlExit {
        try SubmitCommand(files: files, id: id, wait: wait, spool: context.spool, json: context.json).run(context.console)
    }
}

struct ValidateSubcommand: CtlSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check job files: every error with its key path, or ok.",
        discussion: "The daemon's own validator, with the caller as the file's owner. Nothing is submitted."
    )

    @OptionGroup var options: CtlOptions

    @Argument(help: ArgumentHelp("Job files (gatherd.job(5)); - reads stdin.", valueName: "file"),
              completion: .file(extensions: ["json"]))
    var files: [String]

    func validate() throws { try CtlOperand.files(files) }

    func execute(_ context: CtlContext) throws(CtlError) -> CtlExit {
        try ValidateCommand(files: files, spool: context.spool, json: context.json).run(context.console)
    }
}

struct StatusSubcommand: CtlSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Jobs waiting, queued and running, and the latest finished ones.",
        discussion: """
            Counts the files waiting in incoming/, lists the jobs in active/ with their state, \
            policy, age and tasks, and says when no gatherd serves the spool (a job still marked \
            running then shows as "running (daemon not running)"). --json includes task PIDs.
            """
    )

    @OptionGroup var options: CtlOptions

    @Option(help: ArgumentHelp("How many finished jobs to show.", valueName: "n"))
    var last = 10

    func validate() throws {
        guard last >= 0 else { throw ValidationError("--last needs a number of jobs, not \(last)") }
    }

    func execute(_ context: CtlContext) throws(CtlError) -> CtlExit {
        try StatusCommand(last: last, spool: context.spool, json: context.json).run(context.console)
    }
}

struct ShowSubcommand: CtlSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "A job's record, or its progress while it runs.",
        discussion: "--json prints the record exactly as gatherd stored it."
    )

    @OptionGroup var options: CtlOptions

    @Argument(help: ArgumentHelp("The job's ID.", valueName: "id"), completion: JobIDCompletion.anyJob)
    var id: String

    func validate() throws { try CtlOperand.jobID(id) }

    func execute(_ context: CtlContext) throws(CtlError) -> CtlExit {
        try ShowCommand(id: id, spool: context.spool, json: context.json).run(context.console)
    }
}

struct CancelSubcommand: CtlSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Ask gatherd to cancel a job of yours (root: any job).",
        discussion: """
            The job ends cancelled; its tasks get SIGTERM, then SIGKILL after their grace. A job \
            of another user is refused (exit 1), as the daemon would refuse it.
            """
    )

    @OptionGroup var options: CtlOptions

    @Flag(help: "Follow the job until it ends and print its outcome.")
    var wait = false

    @Argument(help: ArgumentHelp("The job's ID.", valueName: "id"), completion: JobIDCompletion.unfinishedJob)
    var id: String

    func validate() throws { try CtlOperand.jobID(id) }

    func execute(_ context: CtlContext) throws(CtlError) -> CtlExit {
        try CancelCommand(id: id, wait: wait, spool: context.spool, json: context.json).run(context.console)
    }
}

struct LogsSubcommand: CtlSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "A job's journal entries (like journalctl GATHER_JOB=ID).",
        discussion: """
            Another user's entries need what journalctl needs: root, or the systemd-journal or \
            adm group. --json prints each entry as journalctl -o json does.
            """
    )

    @OptionGroup var options: CtlOptions

    @Flag(name: .shortAndLong, help: "Keep printing new entries until interrupted.")
    var follow = false

    @Argument(help: ArgumentHelp("The job's ID.", valueName: "id"), completion: JobIDCompletion.anyJob)
    var id: String

    func validate() throws { try CtlOperand.jobID(id) }

    func execute(_ context: CtlContext) throws(CtlError) -> CtlExit {
        try LogsCommand(id: id, follow: follow, json: context.json, spool: context.spool).run(context.console)
    }
}

struct ListSubcommand: CtlSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Finished jobs, newest first.",
        discussion: "Records the caller may not read (another user's) are left out."
    )

    @OptionGroup var options: CtlOptions

    @Option(help: ArgumentHelp("Only jobs that ended in this state: \(JobState.allCases.map(\.rawValue).joined(separator: ", ")).",
                               valueName: "state"),
            completion: .list(JobState.allCases.map(\.rawValue)))
    var state: String?

    @Option(help: ArgumentHelp("Only jobs that ended within this time (like 30m, 1h, 2h30m).", valueName: "duration"))
    var since: String?

    @Option(help: ArgumentHelp("Only jobs of this user (name or uid).", valueName: "name"))
    var user: String?

    func validate() throws {
        _ = try parsedState()
        _ = try parsedSince()
    }

    private func parsedState() throws(ValidationError) -> JobState? {
        guard let state else { return nil }
        guard let parsed = JobState(rawValue: state) else {
            throw ValidationError("--state \(state): not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return parsed
    }

    private func parsedSince() throws(ValidationError) -> Duration? {
        guard let since else { return nil }
        guard let parsed = DurationText.parse(since), parsed > .zero else {
            throw ValidationError("--since \(since): not a duration (like 30m, 1h, 2h30m)")
        }
        return parsed
    }

    func execute(_ context: CtlContext) throws(CtlError) -> CtlExit {
        // validate() has checked both.
        let state = try? parsedState()
        let since = try? parsedSince()
        return try ListCommand(state: state ?? nil, since: since ?? nil, user: user, spool: context.spool, json: context.json)
            .run(context.console)
    }
}

struct PauseSubcommand: CtlSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Claim no new job until resume (running and queued jobs go on).",
        discussion: "Creates the spool's paused file: root or the spool's owner (the daemon's user) only."
    )

    @OptionGroup var options: CtlOptions

    func execute(_ context: CtlContext) throws(CtlError) -> CtlExit {
        try PauseCommand(pause: true, spool: context.spool).run(context.console)
    }
}

struct ResumeSubcommand: CtlSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Claim new jobs again.",
        discussion: "Removes the spool's paused file: root or the spool's owner (the daemon's user) only."
    )

    @OptionGroup var options: CtlOptions

    func execute(_ context: CtlContext) throws(CtlError) -> CtlExit {
        try PauseCommand(pause: false, spool: context.spool).run(context.console)
    }
}
