import ArgumentParser
import GatherCommandLine

/// gatherctl, the user's command line (SPEC §10): everything but the
/// process entry point, so tests and other tools can call it.
public enum GatherCtl {
    /// Runs one command line and returns the exit code.
    /// - Parameters:
    ///   - arguments: the arguments without the program name.
    ///   - environment: for `GATHER_SPOOL`.
    public static func run(_ arguments: [String], environment: [String: String]) -> Int32 {
        let parsed: any ParsableCommand
        switch CommandLineParsing.parse(GatherCtlCommand.self, arguments) {
        case .exit(let status): return status
        case .run(let command): parsed = command
        }
        guard let command = parsed as? any CtlSubcommand else {
            return CommandLineParsing.report(ValidationError("no command given"), of: GatherCtlCommand.self)
        }
        let console = Console()
        defer { console.flush() }
        let context = CtlContext(console: console, spool: SpoolFiles(path: command.options.spoolPath(environment)),
                                 json: command.options.json)
        do throws(CtlError) {
            return try command.execute(context).rawValue
        } catch {
            console.error("gatherctl: \(error.message)")
            return error.exit.rawValue
        }
    }
}
