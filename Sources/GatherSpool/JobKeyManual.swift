/// The documentation rendered from ``JobKeyTable``: the `gatherd.job(5)`
/// manual and a plain-text summary for help output. Both list exactly the
/// rows the validator runs, so a key added as a row is documented with it.
extension JobKeyTable {
    /// The roff source of the `gatherd.job(5)` manual page, as committed in
    /// `docs/gatherd.job.5` (a test keeps the two equal).
    public static func manual() -> String {
        var page = [
            #".\" Generated from JobKeyTable (Sources/GatherSpool/JobKeys.swift); do not edit."#,
            #".\" Regenerate with scripts/generate-docs.sh."#,
            #".TH GATHERD.JOB 5 "" gatherd "File Formats""#,
            ".SH NAME",
            #"gatherd.job \- job file of gatherd"#,
            ".SH SYNOPSIS",
            ".IR spool /incoming/ name .json",
            ".SH DESCRIPTION",
        ]
        page += roffText([
            "A job file describes one job for gatherd(8): its tasks, each a command run as a child process,",
            "and the failure policy under which their outcomes are gathered.",
            "It is dropped into the spool's incoming/ directory, by gatherctl submit or by renaming",
            "a finished file there; gatherctl validate checks it the way the daemon does.",
        ])
        page.append(".PP")
        page += roffText([
            "The file is JSON in UTF-8, at most 1 MiB.",
            "It is read strictly, so that a typo is never silently ignored:",
            "unknown keys, duplicate keys, integers written as 4.0 or 1e2, NUL characters",
            "and control characters in names are errors.",
            "Every error names its key path (tasks[2].command: must be a non-empty array of strings);",
            "malformed JSON gives line and column.",
            "All errors of a file are reported, not only the first.",
        ])
        page.append(".SS Durations")
        page += roffText([
            "A duration is a string of one or more parts, each a number with an optional fraction",
            "followed by a unit, ms, s, m or h, each unit at most once:",
            "250ms, 30s, 5m, 2h, 1h30m, 1.5s.",
            "A JSON number is a duration in seconds.",
            "Signs, spaces and exponents are not allowed.",
            "A duration is 0 or at least 1ms; anything between is an error.",
        ])
        page.append(".SH JOB KEYS")
        page += roffText(["The job file is one JSON object with these keys."])
        page += keys(in: .job).flatMap(roffEntry)
        page.append(".SH TASK KEYS")
        page += roffText(["Each element of tasks is a JSON object with these keys."])
        page += keys(in: .task).flatMap(roffEntry)
        page += [".SH EXAMPLE", ".PP", ".in +4n", ".EX"]
        page += example.split(separator: "\n", omittingEmptySubsequences: false).map { roff(String($0)) }
        page += [".EE", ".in", ".SH SEE ALSO", ".BR gatherd (8),", ".BR gatherctl (1)"]
        return page.joined(separator: "\n") + "\n"
    }

    /// A plain-text summary of every key, for a command's help output: one
    /// heading per scope, each key with its meaning, type and default.
    public static func helpText() -> String {
        let column = 4 + (keys.map(\.name.count).max() ?? 0) + 2
        func padded(_ s: String) -> String { s + String(repeating: " ", count: column - s.count) }
        var lines = ["Job file keys (gatherd.job(5) says more):"]
        for scope in JobKey.Scope.allCases {
            lines.append(scope == .job ? "  the job object:" : "  each element of tasks:")
            for key in keys(in: scope) {
                lines.append(padded("    " + key.name) + key.meaning)
                lines.append(padded("") + summary(of: key))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// A valid job using every key of the SPEC §4 example that has a row; a
    /// test checks that it validates.
    static let example = """
        {
          "name": "nightly-backup",
          "policy": "cancel-siblings",
          "max_parallel": 4,
          "timeout": "30m",
          "kill_grace": "5s",
          "env": {"BACKUP_ROOT": "/srv/backup"},
          "cwd": "/srv",
          "restartable": false,
          "tasks": [
            {"name": "dump-db", "command": ["pg_dump", "-f", "db.sql", "app"], "timeout": "10m"},
            {"name": "sync-files", "command": ["rsync", "-a", "/srv/www/", "www/"], "retries": 2, "retry_delay": "5s"},
            {"name": "prune", "command": ["/usr/local/bin/prune-old"], "after": ["dump-db", "sync-files"],
             "success_exit_codes": [0, 3]}
          ]
        }
        """

    /// `type; one of "a", "b"; default x` (or `required`).
    private static func summary(of key: JobKey) -> String {
        var parts = [key.type]
        if !key.allowedValues.isEmpty { parts.append("one of " + key.allowedValues.joined(separator: ", ")) }
        parts.append(key.defaultText.map { "default: " + $0 } ?? "required")
        return parts.joined(separator: "; ")
    }

    /// One key as a tagged paragraph: the meaning, then type, values and default.
    private static func roffEntry(_ key: JobKey) -> [String] {
        var lines = [".TP", ".B " + roff(key.name), roff("\(key.meaning)."), ".br",
                     roff("Type: \(key.type).")]
        if !key.allowedValues.isEmpty {
            lines += [".br", "Values: " + key.allowedValues.map { "\\fB\(roff($0))\\fR" }.joined(separator: ", ") + "."]
        }
        lines += [".br", key.defaultText.map { roff("Default: \($0).") } ?? "Required."]
        return lines
    }

    /// Prose lines as roff input lines.
    private static func roffText(_ lines: [String]) -> [String] { lines.map(roff) }

    /// `text` as one roff input line: backslashes and hyphens escaped (so
    /// that names and values copy as typed), a leading `.` or `'` made
    /// literal, and the few non-ASCII characters the table uses named.
    static func roff(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\e"
            case "-": out += "\\-"
            case "§": out += "\\(sc"
            case _ where scalar.isASCII: out.unicodeScalars.append(scalar)
            default:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\[u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + "]"
            }
        }
        if out.hasPrefix(".") || out.hasPrefix("'") { out = "\\&" + out }
        return out
    }
}
