import Foundation
import Gather
import Testing
@testable import GatherSpool

/// The job-key table: the validator runs its rows, and the committed manual
/// page is what the table renders.
@Suite struct JobKeyTableTests {
    /// `docs/gatherd.job.5`, found from this file so any working directory works.
    static let manualPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/gatherd.job.5").path

    /// A valid value for each row, so that every row is tried; a new row
    /// needs one here.
    static let samples: [JobKey.Scope: [String: String]] = [
        .job: [
            "name": #""nightly""#, "policy": #""fail-fast""#, "max_parallel": "2", "timeout": #""30m""#,
            "kill_grace": #""5s""#, "env": #"{"A":"1"}"#, "cwd": #""/srv""#, "user": #""alice""#,
            "output": #""discard""#, "restartable": "true", "tasks": #"[{"name":"c","command":["x"]}]"#,
            "memory_max": #""512M""#, "cpu_max": #""150%""#, "tasks_max": "64",
            "on_end": #"["/usr/local/bin/notify", "done"]"#, "on_failure": #"["sendmail", "root"]"#,
            "executor": #""slurm""#, "slurm": #"{"partition": "batch", "cpus_per_task": 2, "mem": "1G", "time_min": "5m"}"#,
        ],
        .task: [
            "name": #""a""#, "command": #"["/bin/true"]"#, "timeout": #""10m""#, "retries": "2",
            "retry_delay": #""5s""#, "retry_delay_max": #""1m""#, "retry_exit_codes": "[75]", "finally": "true",
            "success_exit_codes": "[0, 3]", "env": #"{"B":"2"}"#, "cwd": #""/tmp""#,
            "after": #"["b"]"#, "memory_max": "1048576", "cpu_max": #""50%""#, "tasks_max": "8",
            "executor": #""local""#, "slurm": #"{"qos": "high", "account": "ops", "constraint": "ssd"}"#,
        ],
    ]

    /// Keys SPEC §4 names; those without a row must still be refused.
    static let specKeys: [JobKey.Scope: [String]] = [
        .job: ["name", "policy", "max_parallel", "timeout", "kill_grace", "env", "cwd", "user", "output", "restartable",
               "memory_max", "cpu_max", "tasks_max", "on_end", "on_failure", "executor", "slurm", "tasks"],
        .task: ["name", "command", "timeout", "retries", "retry_delay", "retry_delay_max", "retry_exit_codes", "finally",
                "success_exit_codes", "env", "cwd", "after", "memory_max", "cpu_max", "tasks_max", "executor", "slurm"],
    ]

    /// A file with task `a` (whose `key` is `value`, for task keys) waiting on nothing, and a task `b`.
    func file(_ scope: JobKey.Scope, _ key: String, _ value: String) -> String {
        let b = #"{"name":"b","command":["/bin/true"]}"#
        switch (scope, key) {
        case (.job, "tasks"): return #"{"tasks":\#(value)}"#
        case (.job, _): return #"{"\#(key)":\#(value),"tasks":[\#(b),{"name":"a","command":["/bin/true"]}]}"#
        case (.task, "name"): return #"{"tasks":[\#(b),{"name":\#(value),"command":["/bin/true"]}]}"#
        case (.task, "command"): return #"{"tasks":[\#(b),{"name":"a","command":\#(value)}]}"#
        case (.task, _): return #"{"tasks":[\#(b),{"name":"a","command":["/bin/true"],"\#(key)":\#(value)}]}"#
        }
    }

    @Test func theCommittedManualIsTheRenderedTable() throws {
        let manual = JobKeyTable.manual()
        // scripts/generate-docs.sh regenerates the page through this test.
        if ProcessInfo.processInfo.environment["GATHER_WRITE_DOCS"] == "1" {
            try Data(manual.utf8).write(to: URL(fileURLWithPath: Self.manualPath), options: .atomic)
        }
        let committed = try Data(contentsOf: URL(fileURLWithPath: Self.manualPath))
        #expect(committed == Data(manual.utf8), "docs/gatherd.job.5 is stale: run scripts/generate-docs.sh")
    }

    @Test(arguments: JobKeyTable.keys)
    func everyRowIsAcceptedWithAValidValue(_ key: JobKey) throws {
        let value = try #require(Self.samples[key.scope]?[key.name], "no sample value for \(key.scope) key \(key.name)")
        let text = file(key.scope, key.name, value)
        let validation = JobFileValidator.validate(Array(text.utf8), context: context())
        #expect(validation.problems.isEmpty, "\(text)")
        #expect(validation.job != nil)
    }

    @Test func everyAllowedValueIsAcceptedAndAWrongOneListsThemAll() {
        let choices = JobKeyTable.keys.filter { !$0.allowedValues.isEmpty }
        #expect(choices.map(\.name) == ["policy", "output", "executor", "executor"])
        for key in choices {
            for value in key.allowedValues {
                #expect(problems(file(key.scope, key.name, "\"\(value)\"")).isEmpty, "\(key.name): \(value)")
            }
            let path = key.scope == .job ? key.name : "tasks[1].\(key.name)"
            #expect(problems(file(key.scope, key.name, #""nope""#))
                    == ["\(path): must be \(JobKey.alternatives(key.allowedValues))"])
        }
        #expect(JobKey.alternatives(["a"]) == #""a""#)
        #expect(JobKey.alternatives(["a", "b"]) == #""a" or "b""#)
        #expect(JobKey.alternatives(["a", "b", "c"]) == #""a", "b" or "c""#)
    }

    @Test func aKeyWithoutARowIsAnUnknownKey() {
        #expect(problems(file(.job, "nmae", #""x""#)) == ["nmae: unknown key"])
        #expect(problems(file(.task, "cmd", #"["x"]"#)) == ["tasks[1].cmd: unknown key"])
        for scope in JobKey.Scope.allCases {
            let rows = Set(JobKeyTable.keys(in: scope).map(\.name))
            for key in Self.specKeys[scope] ?? [] where !rows.contains(key) {
                let path = scope == .job ? key : "tasks[1].\(key)"
                #expect(problems(file(scope, key, "1")) == ["\(path): unknown key"])
            }
        }
        // A policy value the engine does not have is refused like any wrong value.
        if GatherPolicy(rawValue: "first-success") == nil {
            #expect(problems(file(.job, "policy", #""first-success""#)).first?.hasPrefix("policy: must be ") == true)
        }
    }

    @Test func rowsAreCompleteAndUniquePerScope() {
        for scope in JobKey.Scope.allCases {
            let names = JobKeyTable.keys(in: scope).map(\.name)
            #expect(Set(names).count == names.count, "\(scope): \(names)")
        }
        for key in JobKeyTable.keys {
            #expect(!key.type.isEmpty && !key.meaning.isEmpty && key.section.hasPrefix("§"), "\(key.name)")
        }
        let required = JobKeyTable.keys.filter(\.isRequired).map { "\($0.scope) \($0.name)" }
        #expect(required == ["job tasks", "task name", "task command"])
    }

    @Test func theManualsExampleIsValid() {
        #expect(problems(JobKeyTable.example).isEmpty)
    }

    @Test func theHelpTextNamesEveryKey() {
        let help = JobKeyTable.helpText()
        #expect(help.hasPrefix("Job file keys"))
        for key in JobKeyTable.keys {
            #expect(help.contains("\n    \(key.name) "), "\(key.name)")
        }
        #expect(!help.contains("\t"))
    }

    @Test func roffEscapesWhatRoffWouldInterpret() {
        #expect(JobKeyTable.roff(".x - a\\b §2 ≤") == #"\&.x \- a\eb \(sc2 \[u2264]"#)
        #expect(JobKeyTable.roff("'quote") == #"\&'quote"#)
    }
}
