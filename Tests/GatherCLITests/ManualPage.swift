import Foundation

/// Renders a manual page (man(7) macros) from what swift-argument-parser
/// knows of a command, its `--experimental-dump-help` (the parser's ToolInfo
/// as JSON): the page says what `--help` says, so the two cannot drift. What
/// the parser does not know (environment, files, related pages) is given
/// here. `scripts/generate-docs.sh` writes docs/gatherd.8 and
/// docs/gatherctl.1 through ``ManualPageTests``.
struct ManualPage {
    let section: Int
    /// The section's title (`User Commands`).
    let volume: String
    let version: String
    let environment: [(name: String, meaning: String)]
    let files: [(path: String, meaning: String)]
    let seeAlso: [String]

    /// The page of the tool whose ToolInfo JSON is `dump`.
    func render(_ dump: Data) throws -> String {
        guard let object = try JSONSerialization.jsonObject(with: dump) as? [String: Any],
              let command = object["command"] as? [String: Any] else {
            throw ManualError(message: "not the parser's ToolInfo")
        }
        let tool = Command(command)
        var page: [String] = [
            ".\\\" Generated from the command-line definitions (--experimental-dump-help); do not edit.",
            ".\\\" Regenerate with scripts/generate-docs.sh.",
            ".TH \(tool.name.uppercased()) \(section) \"\" \"gatherd \(version)\" \"\(volume)\"",
            // Left-adjusted, unhyphenated: paths and flags stay whole and evenly spaced.
            ".ad l",
            ".nh",
            ".SH NAME",
            "\(tool.name) \\- \(Self.escape(Self.sentence(tool.abstract)))",
            ".SH SYNOPSIS",
        ]
        if tool.subcommands.isEmpty {
            page += synopsis(tool, prefix: [tool.name])
        } else {
            page.append(".B \(tool.name)")
            page.append(Self.optionsSynopsis(tool.options.filter { !Self.builtIn($0) }) + " \\fIcommand\\fR [\\fIargument\\fR ...]")
        }
        var description = tool.discussion
        var exitStatus: [String] = []
        if let index = description.firstIndex(where: { $0.hasPrefix("Exit status: ") }) {
            exitStatus = [String(description.remove(at: index).dropFirst("Exit status: ".count))]
        }
        page.append(".SH DESCRIPTION")
        page += Self.paragraphs(description)
        page.append(".SH OPTIONS")
        if !tool.subcommands.isEmpty {
            page.append("These options are taken by every command, before or after its name.")
        }
        page += tool.options.flatMap(Self.item)
        let global = Set(tool.options.map(\.display))
        if !tool.subcommands.isEmpty {
            page.append(".SH COMMANDS")
            for command in tool.subcommands {
                page.append(".SS \(command.name)")
                page += synopsis(command, prefix: [tool.name, command.name], skipping: global)
                page.append(".PP")
                page.append(Self.escape(Self.sentence(command.abstract)))
                if !command.discussion.isEmpty { page.append(".PP") }
                page += Self.paragraphs(command.discussion)
                let own = command.options.filter { !global.contains($0.display) && !Self.builtIn($0) }
                if !own.isEmpty { page += own.flatMap(Self.item) }
            }
        }
        if !exitStatus.isEmpty {
            page.append(".SH \"EXIT STATUS\"")
            page += Self.paragraphs(exitStatus)
        }
        if !environment.isEmpty {
            page.append(".SH ENVIRONMENT")
            for variable in environment { page += [".TP", ".B \(variable.name)", Self.escape(variable.meaning)] }
        }
        if !files.isEmpty {
            page.append(".SH FILES")
            for file in files { page += [".TP", ".I \(Self.escape(file.path))", Self.escape(file.meaning)] }
        }
        if !seeAlso.isEmpty {
            page.append(".SH \"SEE ALSO\"")
            page.append(seeAlso.enumerated().map { index, reference -> String in
                let parts = reference.split(separator: "(")
                return ".BR \(parts[0]) (\(parts[1])" + (index < seeAlso.count - 1 ? "," : "")
            }.joined(separator: "\n"))
        }
        return page.joined(separator: "\n") + "\n"
    }

    /// The synopsis lines of a command: its name, its options, its operands.
    private func synopsis(_ command: Command, prefix: [String], skipping: Set<String> = []) -> [String] {
        let options = command.options.filter { !skipping.contains($0.display) && !Self.builtIn($0) }
        var line = Self.optionsSynopsis(options)
        for operand in command.operands {
            let name = "\\fI\(Self.escape(operand.valueName))\\fR" + (operand.isRepeating ? " ..." : "")
            line += (line.isEmpty ? "" : " ") + (operand.isOptional ? "[\(name)]" : name)
        }
        return [".B \(prefix.joined(separator: " "))"] + (line.isEmpty ? [] : [line])
    }

    private static func optionsSynopsis(_ options: [Argument]) -> String {
        options.map { option in
            // `\ `: a flag and its value are never split over two lines.
            "[\\fB\(escape(option.display))\\fR" + (option.isFlag ? "" : "\\ \\fI\(escape(option.valueName))\\fR") + "]"
        }.joined(separator: " ")
    }

    /// `--help` and `--version`: described once, on the tool's own page.
    private static func builtIn(_ option: Argument) -> Bool { ["--help", "--version"].contains(option.display) }

    /// One option as a tagged paragraph.
    private static func item(_ option: Argument) -> [String] {
        // Short names first, as --help and other pages show them (-f, --follow).
        let names = option.names.sorted { !$0.hasPrefix("--") && $1.hasPrefix("--") }
            .map { "\\fB\(escape($0))\\fR" }.joined(separator: ", ")
        let tag = names + (option.isFlag ? "" : " \\fI\(escape(option.valueName))\\fR")
        var text = sentence(option.abstract)
        if let value = option.defaultValue { text += " Default: \(value)." }
        return [".TP", tag, escape(text)]
    }

    private static func paragraphs(_ texts: [String]) -> [String] {
        texts.enumerated().flatMap { index, text in (index == 0 ? [] : [".PP"]) + [escape(text)] }
    }

    /// `text` ending in a full stop.
    private static func sentence(_ text: String) -> String {
        text.hasSuffix(".") || text.isEmpty ? text : text + "."
    }

    /// Text safe in a man page: backslashes doubled as `\e`, hyphens as `\-`,
    /// and a control character at the start of a line made plain.
    static func escape(_ text: String) -> String {
        var result = text.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-")
        if result.hasPrefix(".") || result.hasPrefix("'") { result = "\\&" + result }
        return result
    }

    /// What the page needs of the parser's CommandInfo.
    struct Command {
        let name: String
        let abstract: String
        let discussion: [String]
        let options: [Argument]
        let operands: [Argument]
        let subcommands: [Command]

        init(_ json: [String: Any]) {
            name = json["commandName"] as? String ?? ""
            abstract = json["abstract"] as? String ?? ""
            discussion = (json["discussion"] as? String ?? "").components(separatedBy: "\n\n").filter { !$0.isEmpty }
            let arguments = (json["arguments"] as? [[String: Any]] ?? []).map(Argument.init)
                .filter { $0.shouldDisplay }
            options = arguments.filter { $0.kind != "positional" }
            operands = arguments.filter { $0.kind == "positional" }
            subcommands = (json["subcommands"] as? [[String: Any]] ?? []).map(Command.init)
                .filter { $0.name != "help" }
        }
    }

    /// What the page needs of the parser's ArgumentInfo.
    struct Argument {
        let kind: String
        let names: [String]
        let valueName: String
        let abstract: String
        let defaultValue: String?
        let isOptional: Bool
        let isRepeating: Bool
        let shouldDisplay: Bool

        init(_ json: [String: Any]) {
            kind = json["kind"] as? String ?? ""
            names = (json["names"] as? [[String: Any]] ?? []).compactMap { name in
                guard let text = name["name"] as? String else { return nil }
                return (name["kind"] as? String == "short" ? "-" : "--") + text
            }
            valueName = json["valueName"] as? String ?? ""
            abstract = json["abstract"] as? String ?? ""
            defaultValue = json["defaultValue"] as? String
            isOptional = json["isOptional"] as? Bool ?? false
            isRepeating = json["isRepeating"] as? Bool ?? false
            shouldDisplay = json["shouldDisplay"] as? Bool ?? true
        }

        var isFlag: Bool { kind == "flag" }
        /// The long name where there is one.
        var display: String { names.first { $0.hasPrefix("--") } ?? names.first ?? valueName }
    }
}

struct ManualError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
