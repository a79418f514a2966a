import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// The real daemon: `after` chains skipped transitively, retries with their
    /// will-retry entries, and the fields of task output entries — each checked
    /// in the record and in the entries read back from journald.
    @Suite("gatherd end to end: dependencies, retries, output", .serialized, .timeLimit(.minutes(3)))
    struct DependencyRetryEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func aFailedTaskSkipsItsDependentsTransitively() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("deps")
            let id = harness.id("chain")
            let marker = harness.spool + "/skipped-ran"
            try harness.drop(id, """
                {"tasks": [
                  {"name": "a", "command": ["sh", "-c", "exit 2"]},
                  {"name": "b", "command": ["touch", "\(marker)"], "after": ["a"]},
                  {"name": "c", "command": ["touch", "\(marker)"], "after": ["b"]},
                  {"name": "d", "command": ["true"]},
                  {"name": "e", "command": ["touch", "\(marker)"], "after": ["d", "c"]}
                ]}
                """)
            try await harness.runUntilIdle()
            let record = try harness.record(id)
            #expect(record.area == "failed")
            #expect(record.state == "failed")
            #expect(record.outcome("a") == "failed")
            #expect(record.outcome("d") == "succeeded")
            for (name, reason) in [("b", "a did not succeed"), ("c", "b did not succeed"), ("e", "c did not succeed")] {
                #expect(record.outcome(name) == "skipped", "task \(name)")
                #expect(record.reason(name) == reason, "task \(name)")
                #expect(record.task(name)?["attempts"] as? Int == 0, "task \(name)")
            }
            // Skipping is not an error: one error, three skipped.
            #expect(record.error == "CompoundError, 1 error [a: exited with status 2] (3 skipped)")
            #expect(!FileManager.default.fileExists(atPath: marker), "a skipped task ran")

            let entries = try harness.journal(id)
            let compound = try #require(entries.first { $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66" })
            #expect(compound["MESSAGE"] == "job \(id) failed: CompoundError, 1 error [a: exited with status 2] (3 skipped)")
            #expect(compound.fields["GATHER_FAILURE"] == ["a: exited with status 2"])
            #expect(compound["GATHER_ERROR_COUNT"] == "1")
            // One task-error entry, for `a` only.
            let taskErrors = entries.filter { $0["MESSAGE_ID"] == "e7c98ccc13c5485c9b53ae2da4518752" }
            #expect(taskErrors.map { $0["GATHER_TASK"] } == ["a"])
            #expect(taskErrors.first?["MESSAGE"] == "job \(id): a: exited with status 2")
            #expect(taskErrors.first?["GATHER_EXIT_STATUS"] == "2")
        }

        @Test func retriesLogWillRetryAndSucceedOnALaterAttempt() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("retry")
            let id = harness.id("flaky")
            let name = "flaky-\(harness.prefix)"
            let counter = harness.spool + "/count"
            let times = harness.spool + "/times"
            // Fails with 23 twice, then succeeds; logs when each attempt starts and ends (ns).
            let script = """
                echo "start $(date +%s%N)" >> \(times); n=$(cat \(counter) 2>/dev/null || echo 0); n=$((n+1)); \
                echo $n > \(counter); echo "attempt $GATHER_ATTEMPT run $n"; echo "end $(date +%s%N)" >> \(times); \
                [ $n -ge 3 ] || exit 23
                """
            try harness.drop(id, """
                {"name": "\(name)", "tasks": [
                  {"name": "task", "command": ["sh", "-c", \(jsonString(script))], "retries": 2, "retry_delay": "200ms"},
                  {"name": "hopeless", "command": ["sh", "-c", "exit 23"], "retries": 1, "retry_delay": "100ms"}
                ]}
                """)
            try await harness.runUntilIdle()
            let record = try harness.record(id)
            #expect(record.outcome("task") == "succeeded")
            #expect(record.task("task")?["attempts"] as? Int == 3)
            #expect(record.outcome("hopeless") == "failed")
            #expect(record.task("hopeless")?["attempts"] as? Int == 2)
            #expect(record.error == "CompoundError, 1 error [hopeless: exited with status 23]")

            // The delay before retry n is retry_delay doubled n-1 times, counted from the attempt's end.
            let lines = try String(contentsOfFile: times, encoding: .utf8).split(separator: "\n")
            let stamps = lines.compactMap { Int64($0.split(separator: " ").last ?? "") }
            try #require(stamps.count == 6, "times: \(lines)")
            #expect(stamps[2] - stamps[1] >= 200_000_000, "first retry came too early")
            #expect(stamps[4] - stamps[3] >= 400_000_000, "second retry came too early")

            let entries = try harness.journal(id)
            let retries = entries.filter { $0["MESSAGE_ID"] == "4bb6b2a0cdd34b54a19c326b2592c21d" }
            let ofTask = retries.filter { $0["GATHER_TASK"] == "task" }
            #expect(ofTask.map { $0["MESSAGE"] } == [
                "job \(id) (\(name)): task: exited with status 23; retry 1 of 2 in 200ms",
                "job \(id) (\(name)): task: exited with status 23; retry 2 of 2 in 400ms",
            ])
            #expect(ofTask.map { $0["GATHER_ATTEMPT"] } == ["1", "2"])
            #expect(ofTask.allSatisfy { $0["GATHER_EXIT_STATUS"] == "23" && $0["GATHER_OUTCOME"] == "failed" })
            #expect(retries.allSatisfy { $0["PRIORITY"] == "5" && $0["GATHER_JOB_NAME"] == name })
            #expect(retries.filter { $0["GATHER_TASK"] == "hopeless" }.map { $0["MESSAGE"] }
                == ["job \(id) (\(name)): hopeless: exited with status 23; retry 1 of 1 in 100ms"])
            // Each attempt's output line carries its own attempt number.
            let output = entries.filter { $0["GATHER_TASK"] == "task" && $0["GATHER_STREAM"] == "stdout" }
            #expect(output.map { $0["MESSAGE"] } == ["attempt 1 run 1", "attempt 2 run 2", "attempt 3 run 3"])
            #expect(output.map { $0["GATHER_ATTEMPT"] } == ["1", "2", "3"])
            // The attempt that will be retried is no task error; the last attempt of `hopeless` is.
            let taskErrors = entries.filter { $0["MESSAGE_ID"] == "e7c98ccc13c5485c9b53ae2da4518752" }
            #expect(taskErrors.map { $0["GATHER_TASK"] } == ["hopeless"])
            #expect(taskErrors.first?["GATHER_ATTEMPT"] == "2")
        }

        @Test func outputEntriesCarryTheJobRunTaskAttemptAndStream() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("output")
            let id = harness.id("lines")
            let talk = #"{"name": "talk", "command": ["sh", "-c", "echo plain; echo '<3>an error'; echo '<1>an alert'; echo '<5>a notice'; echo on-stderr >&2"]}"#
            try harness.drop(id, #"{"tasks": [\#(talk)]}"#)
            let quiet = try harness.drop(harness.id("quiet"), #"{"output": "discard", "tasks": [\#(talk)]}"#)
            try await harness.runUntilIdle()
            let record = try harness.record(id)
            #expect(record.state == "succeeded")
            let run = try #require(record.run)
            #expect(run.count == 32 && run.allSatisfy(\.isHexDigit))

            let entries = try harness.journal(id).filter { $0["GATHER_TASK"] == "talk" && $0["GATHER_STREAM"] != nil }
            func line(_ message: String) -> ReadBackEntry? { entries.first { $0["MESSAGE"] == message } }
            let expected: [(message: String, priority: String, stream: String)] = [
                ("plain", "6", "stdout"),
                ("an error", "3", "stdout"),
                // Levels 0–2 are lowered to 3: no task reaches every terminal.
                ("an alert", "3", "stdout"),
                ("a notice", "5", "stdout"),
                ("on-stderr", "6", "stderr"),
            ]
            for want in expected {
                let entry = try #require(line(want.message), "no entry for \(want.message); got \(entries.map { $0["MESSAGE"] })")
                #expect(entry["PRIORITY"] == want.priority, "\(want.message)")
                #expect(entry["GATHER_STREAM"] == want.stream, "\(want.message)")
                #expect(entry["GATHER_JOB"] == id)
                #expect(entry["GATHER_RUN"] == run)
                #expect(entry["GATHER_ATTEMPT"] == "1")
                // The task's words: tagged ID/TASK, never gatherd (SPEC §7).
                #expect(entry["SYSLOG_IDENTIFIER"] == "\(id)/talk")
                #expect(Int32(entry["SYSLOG_PID"] ?? "").map { $0 > 0 } == true)
            }
            #expect(entries.count == expected.count, "\(entries.map { $0["MESSAGE"] })")
            // Job events of the same run carry the same GATHER_RUN.
            let started = try #require(try harness.journal(id).first { $0["MESSAGE_ID"] == "d163e738219640b9b685a8d8ba3726fd" })
            #expect(started["GATHER_RUN"] == run)

            // `"output": "discard"`: the job's events, none of its lines.
            #expect(try harness.record(quiet).state == "succeeded")
            let quietEntries = try harness.journal(quiet)
            #expect(quietEntries.contains { $0["MESSAGE_ID"] == "d163e738219640b9b685a8d8ba3726fd" })
            #expect(!quietEntries.contains { $0["GATHER_STREAM"] != nil }, "\(quietEntries.map { $0["MESSAGE"] })")
        }
    }
}

/// `text` as a JSON string literal, quotes included.
func jsonString(_ text: String) -> String {
    let data = try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
    let array = String(decoding: data ?? Data("[\"\"]".utf8), as: UTF8.self)
    return String(array.dropFirst().dropLast())
}
