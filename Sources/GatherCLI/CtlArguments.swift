import Gather
import GatherSpool

/// gatherctl's command line, parsed by hand (no argument-parser dependency).
///
/// Options may come before or after the subcommand; `--name=value` and
/// `--name value` are both accepted; `--` ends the options (a file named
/// `--wait` can still be submitted). Anything not understood is a usage
/// error (exit 2), never silently ignored.
public struct CtlArguments: Sendable, Equatable {
    /// What to do.
    public enum Command: Sendable, Equatable {
        case submit(files: [String], id: String?, wait: Bool)
        case validate(files: [String])
        case status(last: Int)
        case show(id: String)
        case cancel(id: String, wait: Bool)
        case logs(id: String, follow: Bool)
        case list(state: JobState?, since: Duration?, user: String?)
        case pause
        case resume
        case help
    }

    public var command: Command
    /// `--spool`, else `$GATHER_SPOOL`, else `/var/spool/gatherd`.
    public var spool: String
    /// `--json`: data as JSON instead of text.
    public var json: Bool

    /// The default spool when neither `--spool` nor `$GATHER_SPOOL` says otherwise.
    public static let defaultSpool = "/var/spool/gatherd"

    /// Which options each subcommand takes, besides `--spool` and `--json`.
    private static let flags: [String: Set<String>] = [
        "submit": ["--wait", "--id"], "validate": [], "status": ["--last"],
        "show": [], "cancel": ["--wait"], "logs": ["--follow"],
        "list": ["--state", "--since", "--user"], "pause": [], "resume": [],
    ]
    /// Options followed by a value.
    private static let valued: Set<String> = ["--spool", "--id", "--last", "--state", "--since", "--user"]

    public static let usage = """
        usage: gatherctl [--spool DIR] [--json] COMMAND ...
          submit [--wait] [--id ID] FILE...   validate and drop job files (- reads stdin)
          validate FILE...                    check job files, print every error or ok
          status [--last N]                   jobs in active/ and the N latest finished (10)
          show ID                             a job's record
          cancel [--wait] ID                  ask gatherd to cancel a job
          logs [--follow] ID                  a job's journal entries
          list [--state S] [--since DUR] [--user NAME]
                                              finished jobs, newest first
          pause                               claim no new job (running and queued ones go on)
          resume                              claim new jobs again
        --spool DIR   the spool (default $GATHER_SPOOL, else /var/spool/gatherd)
        --json        print data as JSON
        exit: 0 success, 1 a job failed or was rejected / validation errors,
              2 usage or system error, 3 a job was cancelled or interrupted
        """

    /// Parses `arguments` (without the program name).
    /// - Parameter environment: looked up for `GATHER_SPOOL`.
    /// - Throws: a usage ``CtlError``.
    static func parse(_ arguments: [String], environment: [String: String]) throws(CtlError) -> CtlArguments {
        var options: [String: String] = [:]
        var operands: [String] = []
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if optionsEnded || argument == "-" || !argument.hasPrefix("-") {
                operands.append(argument)
                continue
            }
            if argument == "--" { optionsEnded = true; continue }
            if argument == "-h" || argument == "--help" { return CtlArguments(command: .help, spool: "", json: false) }
            var name = argument
            var value: String? = nil
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            if name == "-f" { name = "--follow" }
            let known = name == "--spool" || name == "--json" || flags.values.contains { $0.contains(name) }
            guard known else { throw .usage("unknown option \(name)") }
            if valued.contains(name) {
                if value == nil {
                    guard index < arguments.count else { throw .usage("\(name) needs a value") }
                    value = arguments[index]
                    index += 1
                }
                guard let value, !value.isEmpty else { throw .usage("\(name) needs a value") }
            } else if value != nil {
                throw .usage("\(name) takes no value")
            }
            guard options[name] == nil else { throw .usage("\(name) given twice") }
            options[name] = value ?? ""
        }
        guard let subcommand = operands.first else { throw .usage("no command given") }
        if subcommand == "help" { return CtlArguments(command: .help, spool: "", json: false) }
        guard let allowed = flags[subcommand] else { throw .usage("unknown command \(subcommand)") }
        for name in options.keys where name != "--spool" && name != "--json" && !allowed.contains(name) {
            throw .usage("\(subcommand) does not take \(name)")
        }
        let rest = Array(operands.dropFirst())
        let spool = options["--spool"] ?? environment["GATHER_SPOOL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultSpool
        let command = try command(subcommand, rest, options)
        return CtlArguments(command: command, spool: spool, json: options["--json"] != nil)
    }

    private static func command(_ name: String, _ rest: [String], _ options: [String: String]) throws(CtlError) -> Command {
        func one() throws(CtlError) -> String {
            guard rest.count == 1 else { throw .usage("\(name) takes one job ID") }
            guard JobIDText.isValid(rest[0]) else { throw .usage("not a job ID: \(rest[0])") }
            return rest[0]
        }
        switch name {
        case "submit":
            guard !rest.isEmpty else { throw .usage("submit needs at least one file") }
            guard rest.filter({ $0 == "-" }).count <= 1 else { throw .usage("- (stdin) given more than once") }
            let id = options["--id"]
            if let id {
                guard rest.count == 1 else { throw .usage("--id needs exactly one file") }
                guard JobIDText.isValid(id) else { throw .usage("--id \(id): must match ^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$") }
            }
            return .submit(files: rest, id: id, wait: options["--wait"] != nil)
        case "validate":
            guard !rest.isEmpty else { throw .usage("validate needs at least one file") }
            guard rest.filter({ $0 == "-" }).count <= 1 else { throw .usage("- (stdin) given more than once") }
            return .validate(files: rest)
        case "status":
            guard rest.isEmpty else { throw .usage("status takes no operands") }
            var last = 10
            if let text = options["--last"] {
                guard let n = Int(text), n >= 0 else { throw .usage("--last needs a number of jobs, not \(text)") }
                last = n
            }
            return .status(last: last)
        case "show": return .show(id: try one())
        case "cancel": return .cancel(id: try one(), wait: options["--wait"] != nil)
        case "logs": return .logs(id: try one(), follow: options["--follow"] != nil)
        case "list":
            guard rest.isEmpty else { throw .usage("list takes no operands") }
            var state: JobState?
            if let text = options["--state"] {
                guard let parsed = JobState(rawValue: text) else {
                    throw .usage("--state \(text): not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                state = parsed
            }
            var since: Duration?
            if let text = options["--since"] {
                guard let parsed = DurationText.parse(text), parsed > .zero else {
                    throw .usage("--since \(text): not a duration (like 30m, 1h, 2h30m)")
                }
                since = parsed
            }
            return .list(state: state, since: since, user: options["--user"])
        case "pause", "resume":
            guard rest.isEmpty else { throw .usage("\(name) takes no operands") }
            return name == "pause" ? .pause : .resume
        default: throw .usage("unknown command \(name)")
        }
    }
}
