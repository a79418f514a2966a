import Foundation
import GatherTestSupport
import Testing

/// `gatherctl validate` and the command line's usage errors, through the
/// real binary: what it prints and how it exits.
@Suite("gatherctl validate and usage", .timeLimit(.minutes(2)))
struct ValidateCommandTests {
    @Test func aValidFileIsOK() async throws {
        let harness = try CtlHarness("validate-ok")
        let path = try harness.file("good.json", #"{"policy": "fail-fast", "tasks": [{"name": "a", "command": ["true"]}]}"#)
        let result = try await harness.ctl(["validate", path])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stdoutText == "\(path): ok\n")
    }

    @Test func everyErrorIsPrintedWithItsKeyPathAndExitIs1() async throws {
        let harness = try CtlHarness("validate-bad")
        let path = try harness.file("bad.json", """
            {"policy": "sometimes", "max_parallel": 4.0, "tasks": [
              {"name": "a", "command": []},
              {"name": "b", "command": ["true"], "after": ["nope"], "colour": "red"}
            ]}
            """)
        let result = try await harness.ctl(["validate", path])
        #expect(result.status == 1)
        let lines = result.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.contains("\(path): policy: must be \"collect-all\", \"fail-fast\", \"cancel-siblings\" or \"first-success\""), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("\(path): max_parallel: ") }, "\(lines)")
        #expect(lines.contains("\(path): tasks[0].command: must be a non-empty array of strings"), "\(lines)")
        #expect(lines.contains("\(path): tasks[1].colour: unknown key"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("\(path): tasks[1].after[0]: ") }, "\(lines)")
        #expect(lines.count == 5, "\(lines)")
    }

    @Test func malformedJSONGivesLineAndColumn() async throws {
        let harness = try CtlHarness("validate-syntax")
        let path = try harness.file("broken.json", "{\"tasks\": [\n  {\"name\": \"a\",, }\n]}")
        let result = try await harness.ctl(["validate", path])
        #expect(result.status == 1)
        #expect(result.stdoutText.hasPrefix("\(path): line 2, column 16: "), "\(result.output)")
    }

    @Test func jsonOutputListsEachFile() async throws {
        let harness = try CtlHarness("validate-json")
        let good = try harness.file("good.json", #"{"tasks": [{"name": "a", "command": ["true"]}]}"#)
        let bad = try harness.file("bad.json", #"{"tasks": [{"name": "-a", "command": ["true"]}]}"#)
        let result = try await harness.ctl(["validate", "--json", good, bad])
        #expect(result.status == 1)
        let list = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [[String: Any]])
        #expect(list.count == 2)
        #expect(list[0]["ok"] as? Bool == true)
        #expect(list[1]["ok"] as? Bool == false)
        let errors = try #require(list[1]["errors"] as? [[String: String]])
        #expect(errors.first?["path"] == "tasks[0].name")
    }

    @Test func anUnreadableFileIsASystemError() async throws {
        let harness = try CtlHarness("validate-missing")
        let good = try harness.file("good.json", #"{"tasks": [{"name": "a", "command": ["true"]}]}"#)
        let result = try await harness.ctl(["validate", good, harness.files + "/absent.json"])
        #expect(result.status == 2)
        #expect(result.stderrText.contains("absent.json: No such file or directory"), "\(result.output)")
    }

    @Test(arguments: [
        [], ["frobnicate"], ["status", "--bogus"], ["show"], ["show", "a", "b"], ["show", "../etc"],
        ["logs", "--wait", "x"], ["submit"], ["submit", "--id", "a", "x.json", "y.json"], ["submit", "--id", "-bad", "x.json"],
        ["status", "--last", "many"], ["status", "--json=yes"], ["cancel", "--spool"],
    ])
    func usageErrorsExit2(arguments: [String]) async throws {
        let harness = try CtlHarness("usage")
        let result = try await harness.ctl(arguments)
        #expect(result.status == 2, "\(arguments): \(result.output)")
        #expect(result.stderrText.hasPrefix("gatherctl: "), "\(result.output)")
        #expect(result.stderrText.contains("usage: gatherctl"))
        #expect(result.stdout.isEmpty)
    }

    @Test(arguments: [["--help"], ["help"], ["-h"]])
    func helpPrintsTheUsageAndExits0(arguments: [String]) async throws {
        let result = try await CtlHarness.run([CtlHarness.gatherctl] + arguments)
        #expect(result.status == 0)
        #expect(result.stdoutText.contains("USAGE: gatherctl [--spool <dir>] [--json] <subcommand>"), "\(result.output)")
        // Every command is listed with its summary.
        for command in ["submit", "validate", "status", "show", "cancel", "logs", "list", "pause", "resume"] {
            #expect(result.stdoutText.contains("\n  \(command) "), "\(command): \(result.output)")
        }
        #expect(result.stderr.isEmpty)
    }

    @Test func aMissingSpoolIsASystemError() async throws {
        let result = try await CtlHarness.run([CtlHarness.gatherctl, "--spool", "/nonexistent/gatherctl-spool", "status"])
        #expect(result.status == 2)
        #expect(result.stderrText.contains("cannot open spool /nonexistent/gatherctl-spool"), "\(result.output)")
    }

    @Test func theSpoolComesFromTheEnvironmentWhenNotGiven() async throws {
        let harness = try CtlHarness("env-spool")
        let path = try harness.file("envjob.json", #"{"tasks": [{"name": "a", "command": ["true"]}]}"#)
        let result = try await CtlHarness.run([CtlHarness.gatherctl, "submit", path], environment: ["GATHER_SPOOL": harness.spool])
        #expect(result.status == 0, "\(result.output)")
        #expect(harness.names("incoming") == ["envjob.json"])
    }
}
