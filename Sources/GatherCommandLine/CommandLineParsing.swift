import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// How both executables read their command line (SPEC §9, §10): through
/// swift-argument-parser, with the project's conventions on top.
///
/// - `--help`, `help COMMAND`, `--version` and `--generate-completion-script`
///   print to stdout and exit 0;
/// - every usage error prints `PROGRAM: what is wrong`, then the usage of the
///   command it concerns, on stderr and exits 2 (SPEC §10: "2 usage or system
///   error"), never the parser's own 64.
public enum CommandLineParsing {
    /// What a command line comes to.
    public enum Outcome {
        /// A command to run.
        case run(any ParsableCommand)
        /// Nothing to run: exit with this status (what there was to say is printed).
        case exit(Int32)
    }

    /// The exit status of a usage error (SPEC §10).
    public static let usageStatus: Int32 = 2

    /// Parses `arguments` (without the program name) as `root` or one of its subcommands.
    /// - Parameters:
    ///   - root: the root command (`gatherd`, `gatherctl`).
    ///   - arguments: the command line after the program name.
    ///   - explain: asked only when the arguments do not parse: a better
    ///     message than the parser's (`unknown command 'shw' (did you mean 'show'?)`), or `nil`.
    public static func parse(_ root: any ParsableCommand.Type, _ arguments: [String],
                             explain: ([String]) -> String? = { _ in nil }) -> Outcome {
        do {
            var command = try root.parseAsRoot(arguments)
            let ours = [root] + root.configuration.subcommands
            if ours.contains(where: { $0 == type(of: command) }) { return .run(command) }
            // The parser's own commands (`help`, and `--help` after a
            // subcommand) print by throwing from run().
            try command.run()
            return .exit(0)
        } catch {
            if root.exitCode(for: error) != .success, let message = explain(arguments) {
                return .exit(report(ValidationError(message), of: root))
            }
            return .exit(report(error, of: root))
        }
    }

    /// Prints what `error` (thrown while parsing, or a `ValidationError` found
    /// after it) means, and returns the exit status: 0 for help, the version
    /// or a completion script, ``usageStatus`` for a usage error.
    @discardableResult
    public static func report(_ error: any Error, of root: any ParsableCommand.Type) -> Int32 {
        let text = root.fullMessage(for: error)
        guard root.exitCode(for: error) != .success else {
            write(1, text.hasSuffix("\n") ? text : text + "\n")
            return 0
        }
        write(2, usageText(text, program: root._commandName))
        return usageStatus
    }

    /// The parser's `Error: …` / `Usage: …` text as the project writes it:
    /// `PROGRAM: …`, then `usage: …` (the way the hand-made usage looked).
    static func usageText(_ text: String, program: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for index in lines.indices {
            if lines[index].hasPrefix("Error: ") {
                lines[index] = "\(program): " + lines[index].dropFirst("Error: ".count)
            } else if lines[index].hasPrefix("Usage: ") {
                lines[index] = "usage: " + lines[index].dropFirst("Usage: ".count)
            }
        }
        if !lines[0].hasPrefix("\(program): ") { lines[0] = "\(program): " + lines[0] }
        let joined = lines.joined(separator: "\n")
        return joined.hasSuffix("\n") ? joined : joined + "\n"
    }

    /// Writes all of `text` to `fd`; a closed stream leaves nowhere to say so.
    private static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
