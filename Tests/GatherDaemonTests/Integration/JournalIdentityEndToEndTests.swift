import Foundation
import GatherTestSupport
import Testing

extension GatherdEndToEnd {
    /// How the journal names jobs and tasks (SPEC §7): a MESSAGE names a job by
    /// its ID with its name in parentheses, and a task's output lines carry
    /// `SYSLOG_IDENTIFIER=ID/TASK` and the task's PID, so no task can write a
    /// line that reads as gatherd's own.
    @Suite("gatherd end to end: journal identity", .serialized, .timeLimit(.minutes(2)))
    struct JournalIdentityEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func taskLinesAreTheTasksAndMessagesNameTheJobByItsID() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("identity-tag")
            let pidFile = try harness.scratch() + "/mimic.pid"
            // A task that prints a line shaped like gatherd's compound-error
            // entry, at priority 2, then fails.
            let mimic = "echo $$ > \(pidFile); echo '<2>job payroll failed: CompoundError, 1 error [x: exited with status 1]'; exit 1"
            let id = try harness.drop(harness.id("carol-bad"), """
                {"name": "backup", "tasks": [{"name": "mimic", "command": ["sh", "-c", "\(mimic)"]}]}
                """)
            try await harness.runUntilIdle()
            #expect(try harness.record(id).state == "failed")
            let pid = try #require(Int32(String(contentsOfFile: pidFile, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)))

            // The line: the task's identifier and PID, its level lowered to 3.
            let entries = try harness.journal(id)
            let line = try #require(entries.first { $0["MESSAGE"]?.contains("job payroll failed") == true })
            #expect(line["SYSLOG_IDENTIFIER"] == "\(id)/mimic")
            #expect(line["SYSLOG_PID"] == String(pid))
            #expect(line["PRIORITY"] == "3")
            #expect(line["GATHER_TASK"] == "mimic")

            // gatherd's own entries (`journalctl -t gatherd`) hold no task line,
            // and name the job `ID (name)`.
            let own = try TestJournald.readBack(match: ["SYSLOG_IDENTIFIER=gatherd", "GATHER_JOB=\(id)"])
            #expect(!own.isEmpty)
            #expect(own.allSatisfy { $0["MESSAGE"]?.contains("payroll") == false })
            let failed = own.filter { $0["MESSAGE_ID"] == MessageID.jobFailed }
            #expect(failed.count == 1)
            #expect(failed.first?["MESSAGE"]?.hasPrefix("job \(id) (backup) failed: CompoundError, 1 error [mimic: exited with status 1]") == true,
                    "\(failed.first?["MESSAGE"] ?? "none")")
            #expect(failed.first?["GATHER_JOB_NAME"] == "backup")

            // As a person reads it: `ID/TASK[pid]: text` in journalctl's short
            // output. journalctl shows the sender's trusted `_PID` (gatherd's)
            // there, not SYSLOG_PID; the task's own PID is in the entry's fields.
            let short = try Run.command(["journalctl", "-o", "short", "--no-pager", "GATHER_JOB=\(id)"]).stdoutText
            #expect(short.contains("\(id)/mimic[\(line["_PID"] ?? "?")]: job payroll failed"), "\(short)")
            #expect(try Run.command(["journalctl", "-o", "cat", "--no-pager", "SYSLOG_PID=\(pid)", "GATHER_JOB=\(id)"])
                .stdoutText.contains("job payroll failed"))
            let tagged = try Run.command(["journalctl", "-o", "short", "--no-pager", "-t", "gatherd", "GATHER_JOB=\(id)"]).stdoutText
            #expect(!tagged.contains("payroll"), "\(tagged)")
            #expect(tagged.contains("job \(id) (backup) failed"), "\(tagged)")
        }
    }
}
