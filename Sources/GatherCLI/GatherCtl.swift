/// gatherctl, the user's command line (SPEC §10): everything but the
/// process entry point, so tests and other tools can call it.
public enum GatherCtl {
    /// Runs one command line and returns the exit code.
    /// - Parameters:
    ///   - arguments: the arguments without the program name.
    ///   - environment: for `GATHER_SPOOL`.
    public static func run(_ arguments: [String], environment: [String: String]) -> Int32 {
        let console = Console()
        defer { console.flush() }
        do throws(CtlError) {
            let parsed = try CtlArguments.parse(arguments, environment: environment)
            let spool = SpoolFiles(path: parsed.spool)
            let json = parsed.json
            let exit: CtlExit
            switch parsed.command {
            case .help:
                console.line(CtlArguments.usage)
                exit = .success
            case .submit(let files, let id, let wait):
                exit = try SubmitCommand(files: files, id: id, wait: wait, spool: spool, json: json).run(console)
            case .validate(let files):
                exit = try ValidateCommand(files: files, spool: spool, json: json).run(console)
            case .status(let last):
                exit = try StatusCommand(last: last, spool: spool, json: json).run(console)
            case .show(let id):
                exit = try ShowCommand(id: id, spool: spool, json: json).run(console)
            case .cancel(let id, let wait):
                exit = try CancelCommand(id: id, wait: wait, spool: spool, json: json).run(console)
            case .logs(let id, let follow):
                exit = try LogsCommand(id: id, follow: follow, json: json).run(console)
            case .list(let state, let since, let user):
                exit = try ListCommand(state: state, since: since, user: user, spool: spool, json: json).run(console)
            case .pause:
                exit = try PauseCommand(pause: true, spool: spool).run(console)
            case .resume:
                exit = try PauseCommand(pause: false, spool: spool).run(console)
            }
            return exit.rawValue
        } catch {
            console.error("gatherctl: \(error.message)")
            if error.showUsage { console.error(CtlArguments.usage) }
            return error.exit.rawValue
        }
    }
}
