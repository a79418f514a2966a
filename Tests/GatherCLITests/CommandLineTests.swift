import Foundation
import GatherSystem
import GatherTestSupport
import Testing

/// Both command lines as a user meets them: help, `--version`, usage errors
/// (exit 2, SPEC §10), shell completions and the manual pages, all made by
/// swift-argument-parser from the same declarations.
@Suite("gatherd and gatherctl command lines", .timeLimit(.minutes(2)))
struct CommandLineTests {
    @Test(arguments: [CtlHarness.gatherd, CtlHarness.gatherctl])
    func versionIsTheOneVersion(binary: String) async throws {
        let result = try await CtlHarness.run([binary, "--version"])
        #expect(result.status == 0)
        #expect(result.stdoutText == GatherVersion.current + "\n", "\(result.output)")
        #expect(result.stderr.isEmpty)
    }

    @Test(arguments: [["submit", "--help"], ["help", "submit"], ["submit", "-h"]])
    func submitHelpIsSubmitsOwn(arguments: [String]) async throws {
        let result = try await CtlHarness.run([CtlHarness.gatherctl] + arguments)
        #expect(result.status == 0, "\(result.output)")
        let text = result.stdoutText
        #expect(text.contains("USAGE: gatherctl submit [--spool <dir>] [--json] [--wait] [--id <id>] <file> ..."), "\(text)")
        #expect(text.contains("--wait") && text.contains("--id <id>") && text.contains("- reads stdin"))
        // Not the global help: no list of the other commands.
        #expect(!text.contains("SUBCOMMANDS:") && !text.contains("resume"), "\(text)")
    }

    @Test func gatherdHelpDescribesEveryFlagOfTheSpec() async throws {
        let result = try await CtlHarness.run([CtlHarness.gatherd, "--help"])
        #expect(result.status == 0, "\(result.output)")
        let lines = result.stdoutText.split(separator: "\n").map(String.init)
        // SPEC §9's flags, each on a line of its own followed by what it does.
        let flags = ["--spool", "--max-jobs", "--max-tasks", "--max-jobs-per-user", "--max-queued-per-user", "--kill-grace",
                     "--retain", "--log-target", "--log-level", "--exit-when-idle", "--cgroup", "--metrics-file", "--on-failure",
                     "--version", "--help"]
        for flag in flags {
            let index = lines.firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix(flag + " ")
                || $0.trimmingCharacters(in: .whitespaces) == flag || $0.contains(", " + flag) }
            #expect(index != nil, "\(flag) missing from gatherd --help")
            guard let index else { continue }
            // The description is on the flag's line or the next.
            let described = lines[index].split(separator: " ", omittingEmptySubsequences: true).count > 2
                || (index + 1 < lines.count && lines[index + 1].hasPrefix("        "))
            #expect(described, "\(flag) has no description: \(lines[index])")
        }
    }

    @Test(arguments: [
        ["--max-jobs", "0"], ["--max-jobs", "many"], ["--bogus"], ["--kill-grace", "10m"], ["--log-target", "syslog"],
        ["--cgroup", "relative/path"], ["--retain", "forever"], ["--exit-when-idle=yes"], ["--spool"], ["extra"],
    ])
    func gatherdUsageErrorsExit2(arguments: [String]) async throws {
        let result = try await CtlHarness.run([CtlHarness.gatherd] + arguments)
        #expect(result.status == 2, "\(arguments): \(result.output)")
        #expect(result.stderrText.hasPrefix("gatherd: "), "\(result.output)")
        #expect(result.stderrText.contains("usage: gatherd"), "\(result.output)")
        #expect(result.stdout.isEmpty)
    }

    @Test(arguments: [(["shw", "x"], "unknown command 'shw' (did you mean 'show'?)"),
                      (["--spool", "/tmp", "stauts"], "unknown command 'stauts' (did you mean 'status'?)"),
                      (["frobnicate"], "unknown command 'frobnicate'\n")])
    func aMistypedCommandGetsTheNearestCommand(arguments: [String], message: String) async throws {
        let result = try await CtlHarness.run([CtlHarness.gatherctl] + arguments)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.stderrText.hasPrefix("gatherctl: " + message), "\(result.output)")
        #expect(result.stderrText.contains("usage: gatherctl"), "\(result.output)")
    }

    @Test func aMistypedKeyGetsTheNearestKey() async throws {
        let harness = try CtlHarness("did-you-mean")
        let path = try harness.file("typo.json", #"{"polcy": "fail-fast", "tasks": [{"name": "a", "comand": ["true"], "zzzz": 1}]}"#)
        let result = try await harness.ctl(["validate", path])
        #expect(result.status == 1)
        let lines = result.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.contains("\(path): polcy: unknown key (did you mean \"policy\"?)"), "\(lines)")
        #expect(lines.contains("\(path): tasks[0].comand: unknown key (did you mean \"command\"?)"), "\(lines)")
        // Nothing near: no guess.
        #expect(lines.contains("\(path): tasks[0].zzzz: unknown key"), "\(lines)")
        let json = try await harness.ctl(["validate", "--json", path])
        #expect(json.stdoutText.contains(#""did_you_mean":"command""#) || json.stdoutText.contains(#""did_you_mean": "command""#),
                "\(json.output)")
    }

    /// A mistyped key of a `slurm` object gets the nearest `slurm` key, at the job and in a task.
    @Test func aMistypedSlurmKeyGetsTheNearestSlurmKey() async throws {
        let harness = try CtlHarness("did-you-mean-slurm")
        let path = try harness.file("typo.json", #"{"slurm": {"partiton": "x"}, "tasks": [{"name": "a", "command": ["true"], "slurm": {"cpu_per_task": 2, "zzzz": 1}}]}"#)
        let result = try await harness.ctl(["validate", path])
        #expect(result.status == 1)
        let lines = result.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.contains("\(path): slurm.partiton: unknown key (did you mean \"partition\"?)"), "\(lines)")
        #expect(lines.contains("\(path): tasks[0].slurm.cpu_per_task: unknown key (did you mean \"cpus_per_task\"?)"), "\(lines)")
        #expect(lines.contains("\(path): tasks[0].slurm.zzzz: unknown key"), "\(lines)")
    }

    // MARK: Completions

    @Test func theBashCompletionParsesAndCompletesACommand() async throws {
        let script = try await CtlHarness.run([CtlHarness.gatherctl, "--generate-completion-script", "bash"])
        #expect(script.status == 0, "\(script.output)")
        let path = NSTemporaryDirectory() + "gatherctl-completion-\(UInt32.random(in: 0...UInt32.max)).bash"
        try script.stdout.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let syntax = try await CtlHarness.run(["bash", "-n", path])
        #expect(syntax.status == 0, "\(syntax.output)")
        // What bash does on `gatherctl sh<TAB>`: the function `complete -p` names, with COMP_WORDS set.
        let complete = """
            source "$1"
            function=$(complete -p gatherctl | sed -E 's/.* -F ([^ ]+) .*/\\1/')
            COMP_WORDS=(gatherctl "$2"); COMP_CWORD=1; COMP_LINE="gatherctl $2"; COMP_POINT=${#COMP_LINE}
            "$function" gatherctl "$2" gatherctl
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let shown = try await CtlHarness.run(["bash", "-c", complete, "bash", path, "sh"])
        #expect(shown.status == 0, "\(shown.output)")
        #expect(shown.stdoutText == "show\n", "\(shown.output)")
        let options = try await CtlHarness.run(["bash", "-c", complete, "bash", path, "--sp"])
        #expect(options.stdoutText == "--spool\n", "\(options.output)")
    }

    @Test func theBashCompletionCompletesJobIDsFromTheSpoolNamed() async throws {
        let harness = try CtlHarness("complete-ids")
        let waiting = harness.id("waiting")
        #expect(try await harness.ctl(["submit", try harness.file("\(waiting).json", #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)]).status == 0)
        // A finished job as the daemon leaves it: its directory in done/.
        let finished = harness.id("finished")
        try FileManager.default.createDirectory(atPath: "\(harness.spool)/done/\(finished)", withIntermediateDirectories: true)
        let script = try await CtlHarness.run([CtlHarness.gatherctl, "--generate-completion-script", "bash"])
        let path = NSTemporaryDirectory() + "gatherctl-completion-\(UInt32.random(in: 0...UInt32.max)).bash"
        try script.stdout.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        // The script asks the gatherctl it completes for: the one on PATH.
        let complete = """
            PATH="$3:$PATH"; source "$1"
            COMP_WORDS=(gatherctl --spool "$2" "$4" ""); COMP_CWORD=4; COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
            _gatherctl gatherctl "" "$2"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let directory = (CtlHarness.gatherctl as NSString).deletingLastPathComponent
        let show = try await CtlHarness.run(["bash", "-c", complete, "bash", path, harness.spool, directory, "show"])
        #expect(show.stdoutText == "\(finished)\n\(waiting)\n", "\(show.output)")
        let cancel = try await CtlHarness.run(["bash", "-c", complete, "bash", path, harness.spool, directory, "cancel"])
        #expect(cancel.stdoutText == "\(waiting)\n", "\(cancel.output)")
    }

    @Test(arguments: ["zsh", "fish"])
    func theOtherShellsGetAScript(shell: String) async throws {
        for binary in [CtlHarness.gatherctl, CtlHarness.gatherd] {
            let script = try await CtlHarness.run([binary, "--generate-completion-script", shell])
            #expect(script.status == 0, "\(script.output)")
            let name = (binary as NSString).lastPathComponent
            // zsh: `#compdef NAME`; fish: `complete -c NAME …` lines.
            #expect(script.stdoutText.contains(shell == "zsh" ? "#compdef \(name)" : "complete -c '\(name)'")
                    || script.stdoutText.contains("complete -c \(name)"), "\(script.stdoutText.prefix(300))")
        }
    }
}
