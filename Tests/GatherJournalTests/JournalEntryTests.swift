import Gather
@testable import GatherJournal
import GatherSystem
import Testing

/// Entries built in memory: field-name rules, SPEC §7 texts, the output-line rule.
@Suite struct JournalEntryTests {
    let job = JobIdentity(id: "nightly-backup", run: String(repeating: "ab", count: 16), name: "nightly-backup", uid: 1000)

    @Test(arguments: ["MESSAGE", "GATHER_JOB", "A", "X9_", String(repeating: "N", count: 64)])
    func acceptsValidNames(_ name: String) throws {
        var entry = JournalEntry()
        try entry.append(name, "v")
        #expect(entry.fields.map(\.name) == [name])
    }

    @Test(arguments: ["", "_PID", "9LIVES", "lower", "GATHER-JOB", "GATHER JOB", "ÄRGER", String(repeating: "N", count: 65)])
    func rejectsInvalidNamesAndLeavesTheEntryUnchanged(_ name: String) throws {
        var entry = try JournalEntry(["MESSAGE": "kept"])
        let error = #expect(throws: JournalError.self) { try entry.append(name, "v") }
        #expect(error?.code == .invalidFieldName)
        #expect(error?.field == name)
        #expect(entry.fields.count == 1)
    }

    @Test func eventTextsFollowTheSpec() {
        let policy = GatherPolicy.cancelSiblings
        #expect(JournalEntry.jobStarted(job, tasks: 3, policy: policy).message
                == "job nightly-backup started: 3 tasks, policy cancel-siblings")
        #expect(JournalEntry.jobSucceeded(job, tasks: 3, policy: policy, elapsed: .milliseconds(4200)).message
                == "job nightly-backup succeeded: 3 tasks in 4.2s")
        #expect(JournalEntry.jobFailing(job, policy: policy, firstError: "dump-db: exited with status 1").message
                == "job nightly-backup failing: dump-db: exited with status 1")
        let taskError = JournalEntry.taskError(job, task: "dump-db", attempt: 1, outcome: .failed,
                                               errorLine: "dump-db: exited with status 1", exitStatus: 1)
        #expect(taskError.message == "job nightly-backup: dump-db: exited with status 1")
        #expect(taskError["GATHER_EXIT_STATUS"] == "1")
        #expect(taskError["GATHER_SIGNAL"] == nil)
        #expect(JournalEntry.taskRetry(job, task: "sync-files", attempt: 1, outcome: .failed,
                                       errorLine: "sync-files: exited with status 23",
                                       retry: 1, of: 2, delay: .seconds(5)).message
                == "job nightly-backup: sync-files: exited with status 23; retry 1 of 2 in 5s")
        #expect(JournalEntry.jobRejected(job, file: "bad.json", errors: ["tasks[0].command: must be a non-empty array of strings"]).message
                == "job file bad.json rejected: tasks[0].command: must be a non-empty array of strings")
        #expect(JournalEntry.jobCancelled(job, policy: policy).message == "job nightly-backup cancelled by request")
        #expect(JournalEntry.cancelRefused(job, requestOwner: 1001).message
                == "cancel request for nightly-backup refused: owned by uid 1001, job by uid 1000")
        #expect(JournalEntry.jobInterrupted(job, policy: policy).message == "job nightly-backup interrupted: daemon stopped")
        #expect(JournalEntry.spoolWriteError(job, error: "No space left on device").message
                == "cannot write record of nightly-backup: No space left on device; claiming paused")
        let noJob = JournalEntry.spoolWriteError(nil, error: "write active/x/.state.json.tmp: No space left on device")
        #expect(noJob.message == "cannot write to the spool: write active/x/.state.json.tmp: No space left on device; claiming paused")
        #expect(!noJob.fields.contains { $0.name.hasPrefix("GATHER_") })
        let unknown = JournalEntry.cancelRefused(unknownJob: "ghost", requestOwner: 1001, reason: "no such job waiting or running")
        #expect(unknown.fields.filter { $0.name.hasPrefix("GATHER_") }.map(\.name) == ["GATHER_JOB", "GATHER_REQUEST_UID"])
        #expect(JournalEntry.daemonReady(spool: "/var/spool/gatherd", recovered: 0).message
                == "gatherd ready: spool /var/spool/gatherd, 0 jobs recovered")
        #expect(JournalEntry.daemonStopping(interrupted: 2).message == "gatherd stopping: 2 jobs interrupted")
    }

    @Test func everyEventCarriesItsIdPriorityAndIdentity() {
        let entries: [(JournalMessageID, JournalEntry)] = [
            (.jobStarted, .jobStarted(job, tasks: 1, policy: .collectAll)),
            (.jobFailed, .jobFailed(job, policy: .collectAll, error: CompoundError(failures: []))),
            (.jobFailing, .jobFailing(job, policy: .failFast, firstError: "a: x")),
            (.taskError, .taskError(job, task: "a", attempt: 2, outcome: .killed, errorLine: "a: killed by signal SIGKILL", signal: "SIGKILL")),
            (.spoolWriteError, .spoolWriteError(job, error: "EIO")),
            (.daemonReady, .daemonReady(spool: "/s", recovered: 1)),
        ]
        for (id, entry) in entries {
            #expect(entry["MESSAGE_ID"] == id.rawValue)
            #expect(entry.priority == id.priority)
            #expect(entry["SYSLOG_IDENTIFIER"] == "gatherd")
            for field in entry.fields { #expect(JournalEntry.problem(withName: field.name) == nil) }
        }
        #expect(entries[1].1.priority == 3)
        #expect(entries[4].1.priority == 2)
        #expect(entries[3].1["GATHER_SIGNAL"] == "SIGKILL")
        #expect(entries[0].1["GATHER_UID"] == "1000")
        #expect(entries[5].1["GATHER_JOB"] == nil)
    }

    @Test func endEntriesCarryTheCgroupUsage() {
        let usage = CgroupUsage(cpuUsec: 1_234_567, memoryPeak: 13_107_200, tasksPeak: 9)
        let error = CompoundError(failures: [])
        func ends(_ usage: CgroupUsage?) -> [JournalEntry] {
            [
                .taskError(job, task: "a", attempt: 1, outcome: .failed, errorLine: "a: exited with status 1",
                           exitStatus: 1, usage: usage),
                .taskSucceeded(job, task: "a", attempt: 1, elapsed: .seconds(1), usage: usage),
                .jobSucceeded(job, tasks: 1, policy: .collectAll, elapsed: .seconds(1), usage: usage),
                .jobFailed(job, policy: .collectAll, error: error, usage: usage),
                .jobCancelled(job, policy: .collectAll, usage: usage),
                .jobInterrupted(job, policy: .collectAll, usage: usage),
            ]
        }
        for entry in ends(usage) {
            #expect(entry["GATHER_CPU_USEC"] == "1234567", "\(entry.message)")
            #expect(entry["GATHER_MEMORY_PEAK"] == "13107200", "\(entry.message)")
            #expect(entry.fields.filter { $0.name == "GATHER_CPU_USEC" || $0.name == "GATHER_MEMORY_PEAK" }.count == 2)
            // The pids peak is in the record only.
            #expect(!entry.fields.contains { $0.name.contains("TASKS_PEAK") })
            for field in entry.fields { #expect(JournalEntry.problem(withName: field.name) == nil) }
        }
        // Without usage (no cgroups), and without the values the host does not report, no field.
        for entry in ends(nil) + ends(CgroupUsage()) {
            #expect(!entry.fields.contains { $0.name == "GATHER_CPU_USEC" || $0.name == "GATHER_MEMORY_PEAK" })
        }
        for entry in ends(CgroupUsage(cpuUsec: 0)) {
            #expect(entry["GATHER_CPU_USEC"] == "0" && entry["GATHER_MEMORY_PEAK"] == nil)
        }
        // The defaults leave the entries as they were.
        #expect(JournalEntry.jobCancelled(job, policy: .collectAll).fields.map(\.name)
                == ends(nil)[4].fields.map(\.name))
    }

    @Test func compoundErrorEntryKeepsTheCaps() {
        let failures = (1...2000).map { TaskFailure(task: "t\($0)", error: LineError(text: "exited with status 1"), outcome: .failed) }
        let entry = JournalEntry.jobFailed(job, policy: .collectAll, error: CompoundError(failures: failures, cancelled: 1))
        #expect(entry.values("GATHER_FAILURE").count == 500)
        #expect(entry.values("GATHER_FAILURE").first == "t1: exited with status 1")
        #expect(entry["GATHER_FAILURES_OMITTED"] == "1500")
        #expect(entry["GATHER_ERROR_COUNT"] == "2000")
        #expect(entry.message.hasPrefix("job nightly-backup failed: CompoundError, 2000 errors [t1: exited with status 1; "))
        #expect(entry.message.hasSuffix("t100: exited with status 1; … and 1900 more] (1 cancelled)"))
        #expect(entry.fields.count < 1024)
    }

    @Test func longFailureLinesAreCutAtACharacterBoundary() {
        let long = String(repeating: "é", count: 5000)
        let entry = JournalEntry.jobFailed(job, policy: .collectAll,
                                           error: CompoundError(failures: [TaskFailure(task: "t", error: LineError(text: long), outcome: .failed)]))
        let value = entry.values("GATHER_FAILURE")[0]
        #expect(value.utf8.count <= JournalEntry.maxFailureBytes)
        #expect(value.hasSuffix("é…"))
    }

    @Test(arguments: [("<3>disk full", 3, "disk full"), ("<0>panic", 3, "panic"), ("<2>x", 3, "x"),
                      ("<7>debug", 7, "debug"), ("<5>n", 5, "n"), ("plain", 6, "plain"),
                      ("<8>not a level", 6, "<8>not a level"), ("<3", 6, "<3"), ("", 6, "")])
    func outputPriorityPrefix(_ line: String, _ level: Int, _ message: String) {
        let source = TaskOutputSource(job: job, task: "t", attempt: 2, stream: .stdout)
        let entries = JournalEntry.taskOutput(Array(line.utf8), from: source)
        #expect(entries.count == 1)
        #expect(entries[0].priority == level)
        #expect(entries[0].message == message)
        #expect(entries[0]["GATHER_ATTEMPT"] == "2")
        #expect(entries[0]["GATHER_STREAM"] == "stdout")
        #expect(entries[0]["MESSAGE_ID"] == nil)
    }

    @Test func fieldsMadeOnceGiveTheSameEntriesAsFieldsMadePerLine() {
        let source = TaskOutputSource(job: job, task: "dump", attempt: 3, stream: .stderr, pid: 4242)
        let fields = TaskOutputFields(source)
        for line in ["<3>disk full", "plain", ""] {
            let once = JournalEntry.taskOutput(Array(line.utf8), fields: fields)
            let each = JournalEntry.taskOutput(Array(line.utf8), from: source)
            #expect(once == each)
            #expect(once[0]["SYSLOG_IDENTIFIER"] == "\(job.id)/dump")
            #expect(once[0]["SYSLOG_PID"] == "4242")
            #expect(once[0]["GATHER_STREAM"] == "stderr")
            #expect(once[0]["GATHER_ATTEMPT"] == "3")
        }
        #expect(JournalEntry.taskOutput(Array("<5>n".utf8), fields: fields)[0].priority == 5)
    }

    @Test func longOutputLinesAreSplitWithoutCuttingCharacters() {
        // 'é' is two bytes: an odd offset puts a chunk border inside one.
        let line = Array("x".utf8) + Array(String(repeating: "é", count: 70_000).utf8)
        let entries = JournalEntry.taskOutput(line, from: TaskOutputSource(job: job, task: "t", attempt: 1, stream: .stderr))
        #expect(entries.count == 3)
        #expect(entries.allSatisfy { $0.fields[0].value.count <= JournalEntry.maxOutputChunk })
        #expect(entries.allSatisfy { String(validating: $0.fields[0].value, as: UTF8.self) != nil })
        #expect(entries.flatMap { $0.fields[0].value } == line)
    }
}

/// An error whose description is a given line, standing in for the process layer's errors.
struct LineError: Error, CustomStringConvertible {
    let text: String
    var description: String { text }
}
