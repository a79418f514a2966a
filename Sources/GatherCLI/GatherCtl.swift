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
        switch CommandLineParsing.parse(GatherCtlCommand.self, arguments, explain: unknownCommand) {
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

    /// `unknown command 'shw' (did you mean 'show'?)` when the first operand
    /// of a command line that does not parse names no command (the parser
    /// would only call it an unexpected argument).
    static func unknownCommand(_ arguments: [String]) -> String? {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { return nil }
            // The options before a command that take a value.
            if argument == "--spool" || argument == "--generate-completion-script" { index += 2; continue }
            if argument.hasPrefix("-") { index += 1; continue }
            let names = GatherCtlCommand.configuration.subcommands.map { $0._commandName } + ["help"]
            guard !names.contains(argument) else { return nil }
            let typed = Array(argument.utf8)
            let near = names.map { (name: $0, distance: KeySuggestion.distance(typed, Array($0.utf8))) }
                .filter { $0.distance <= 2 && $0.distance < typed.count }
                .min { $0.distance < $1.distance }
            return "unknown command '\(argument)'" + (near.map { " (did you mean '\($0.name)'?)" } ?? "")
        }
        return nil
    }
}
