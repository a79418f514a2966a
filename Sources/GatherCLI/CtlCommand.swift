import ArgumentParser
import Gather
import GatherSpool
import GatherSystem

/// gatherctl's command line (SPEC §10) on swift-argument-parser: the root
/// command and the options every subcommand takes. The help, the manual page
/// gatherctl(1) and the shell completions all come from these declarations.
public struct GatherCtlCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gatherctl",
        abstract: "Submit, follow and inspect the jobs of gatherd.",
        discussion: """
            gatherctl drops job files (gatherd.job(5)) into the spool of gatherd(8), follows them \
            until their records exist, and shows the spool's jobs, records and journal entries. \
            Whether a gatherd serves the spool is known, not guessed: the daemon holds an flock on \
            the spool directory, and gatherctl says when none does.

            Exit status: 0 success; 1 a job failed or was rejected, validation found errors, or \
            the job is not there or not yours; 2 a usage or system error (also: no gatherd serves \
            the spool while waiting); 3 a job was cancelled or interrupted. With several jobs, the \
            highest of 2, 1, 3, 0 in that order of precedence.
            """,
        version: GatherVersion.current,
        subcommands: [
            SubmitSubcommand.self, ValidateSubcommand.self, StatusSubcommand.self, ShowSubcommand.self,
            CancelSubcommand.self, LogsSubcommand.self, ListSubcommand.self, PauseSubcommand.self, ResumeSubcommand.self,
        ]
    )

    @OptionGroup var options: CtlOptions

    public init() {}
}

/// The options of every gatherctl command, given before or after the
/// command's name (`gatherctl --spool DIR status`, `gatherctl status --json`).
public struct CtlOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The spool directory (default: $GATHER_SPOOL, else /var/spool/gatherd).", valueName: "dir"),
            completion: .directory)
    var spool: String?

    @Flag(help: "Print data as JSON.")
    var json = false

    public init() {}

    /// The default spool when neither `--spool` nor `$GATHER_SPOOL` says otherwise.
    static let defaultSpool = "/var/spool/gatherd"

    /// `--spool`, else `$GATHER_SPOOL`, else ``defaultSpool``.
    func spoolPath(_ environment: [String: String]) -> String {
        spool ?? environment["GATHER_SPOOL"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultSpool
    }

    /// Refuses an empty `--spool`.
    public func validate() throws {
        if let spool, spool.isEmpty { throw ValidationError("--spool needs a directory") }
    }
}

/// A gatherctl subcommand: runs with the console and the spool, and says how
/// the command ends (SPEC §10's exit codes).
protocol CtlSubcommand: ParsableCommand {
    var options: CtlOptions { get }
    func execute(_ context: CtlContext) throws(CtlError) -> CtlExit
}

/// What every command runs with.
struct CtlContext {
    let console: Console
    let spool: SpoolFiles
    var json: Bool
}

/// Checks of operands shared by several commands.
enum CtlOperand {
    /// Fails unless `id` can name a job (SPEC §3): it can never climb out of the spool (`../x`).
    static func jobID(_ id: String) throws {
        guard JobIDText.isValid(id) else { throw ValidationError("not a job ID: \(id)") }
    }

    /// Fails when stdin (`-`) is named more than once.
    static func files(_ files: [String]) throws {
        guard files.filter({ $0 == "-" }).count <= 1 else { throw ValidationError("- (stdin) given more than once") }
    }
}
