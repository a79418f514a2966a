import Foundation
import Gather
import GatherJournal
import GatherTestSupport
import Testing

/// Entries written through JournalWriter into a real journald, read back both
/// through the project's JournalReader and through `journalctl -o json`.
@Suite(.timeLimit(.minutes(2)))
struct JournaldRoundTripTests {
    /// A job identity no other test (or other run) uses: the journal socket is shared.
    static func uniqueJob(_ label: String) -> JobIdentity {
        let id = "test-\(label)-\(UUID().uuidString.prefix(8).lowercased())"
        return JobIdentity(id: id, run: UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(),
                           name: "\(label) job", uid: 1000)
    }

    /// Writes `entries` through a journal writer and waits until each was sent.
    static func write(_ entries: [JournalEntry], lines: [(bytes: [UInt8], source: TaskOutputSource)] = []) -> JournalWriter.Statistics {
        let writer = JournalWriter(configuration: .init(target: .journal))
        for entry in entries { writer.log(entry) }
        for line in lines { writer.logOutput(line.bytes, from: line.source) }
        writer.flush()
        writer.close()
        return writer.statistics
    }

    @Test func customRepeatedAndMultiLineFieldsComeBack() throws {
        guard TestJournald.canRun else { return }
        try TestJournald.ensureRunning()
        let job = Self.uniqueJob("fields")
        var entry = JournalEntry.jobFailed(job, policy: .cancelSiblings, error: CompoundError(failures: [
            TaskFailure(task: "dump-db", error: LineError(text: "exited with status 1"), outcome: .failed),
            TaskFailure(task: "upload", error: LineError(text: "timed out after 5s"), outcome: .timedOut),
        ], cancelled: 1, skipped: 2))
        try entry.append("GATHER_TEST_NOTE", "first line\nsecond line\n\tthird")
        let counts = Self.write([entry])
        #expect(counts.sent == 1 && counts.toStderr == 0)

        let json = try TestJournald.readBack(match: ["GATHER_JOB=\(job.id)"])
        try #require(json.count == 1)
        #expect(json[0].fields["GATHER_FAILURE"]?.sorted() == ["dump-db: exited with status 1", "upload: timed out after 5s"].sorted())
        #expect(json[0]["MESSAGE"] == "job \(job.id) (fields job) failed: CompoundError, 2 errors [dump-db: exited with status 1; upload: timed out after 5s] (1 cancelled, 2 skipped)")
        #expect(json[0]["MESSAGE_ID"] == JournalMessageID.jobFailed.rawValue)
        #expect(json[0]["PRIORITY"] == "3")
        #expect(json[0]["SYSLOG_IDENTIFIER"] == "gatherd")
        #expect(json[0]["GATHER_RUN"] == job.run)
        #expect(json[0]["GATHER_UID"] == "1000")
        #expect(json[0]["GATHER_POLICY"] == "cancel-siblings")
        #expect(json[0]["GATHER_TEST_NOTE"] == "first line\nsecond line\n\tthird")

        let records = try JournalReader(job: job.id).readAll()
        try #require(records.count == 1)
        #expect(records[0].values("GATHER_FAILURE").sorted() == ["dump-db: exited with status 1", "upload: timed out after 5s"].sorted())
        #expect(records[0]["GATHER_TEST_NOTE"] == "first line\nsecond line\n\tthird")
        #expect(records[0].message == json[0]["MESSAGE"])
        #expect(records[0].realtimeMicroseconds > 0 && !records[0].cursor.isEmpty)
    }

    @Test func outputLinesKeepPriorityAndSplitAt64KiB() throws {
        guard TestJournald.canRun else { return }
        try TestJournald.ensureRunning()
        let job = Self.uniqueJob("output")
        let source = TaskOutputSource(job: job, task: "dump-db", attempt: 2, stream: .stderr)
        // 200 KiB of printable bytes with a recognisable pattern, so order and content are checked.
        let long = (0..<(200 * 1024)).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        let counts = Self.write([], lines: [(Array("<3>disk full".utf8), source), (long, source), (Array("plain\n".utf8), source)])
        #expect(counts.sent == 6)

        let json = try TestJournald.readBack(match: ["GATHER_JOB=\(job.id)"])
        try #require(json.count == 6)
        #expect(json[0]["MESSAGE"] == "disk full")
        #expect(json[0]["PRIORITY"] == "3")
        #expect(json[0]["GATHER_STREAM"] == "stderr")
        #expect(json[0]["GATHER_TASK"] == "dump-db")
        #expect(json[0]["GATHER_ATTEMPT"] == "2")
        let chunks = json[1...4].map { $0["MESSAGE"] ?? "" }
        #expect(chunks.map(\.utf8.count) == [65536, 65536, 65536, 8192])
        #expect(Array(chunks.joined().utf8) == long)
        #expect(json[1...4].allSatisfy { $0["PRIORITY"] == "6" })
        #expect(json[5]["MESSAGE"] == "plain")

        let records = try JournalReader(job: job.id).readAll()
        try #require(records.count == 6)
        #expect(records[0].message == "disk full" && records[0]["PRIORITY"] == "3")
        #expect(Array(records[1...4].map(\.message).joined().utf8) == long)
    }

    @Test func anEntryWith2000FailuresArrives() throws {
        guard TestJournald.canRun else { return }
        try TestJournald.ensureRunning()
        let job = Self.uniqueJob("many")
        let failures = (1...2000).map {
            TaskFailure(task: "task-\($0)", error: LineError(text: "exited with status \($0 % 256)"), outcome: .failed)
        }
        #expect(Self.write([.jobFailed(job, policy: .collectAll, error: CompoundError(failures: failures))]).sent == 1)

        let json = try TestJournald.readBack(match: ["GATHER_JOB=\(job.id)"])
        try #require(json.count == 1)
        #expect(json[0].fields["GATHER_FAILURE"]?.count == 500)
        #expect(json[0].fields["GATHER_FAILURE"]?.contains("task-500: exited with status 244") == true)
        #expect(json[0]["GATHER_FAILURES_OMITTED"] == "1500")
        #expect(json[0]["GATHER_ERROR_COUNT"] == "2000")
        #expect(json[0]["MESSAGE"]?.hasSuffix("; … and 1900 more]") == true)

        let records = try JournalReader(job: job.id).readAll()
        try #require(records.count == 1)
        #expect(records[0].values("GATHER_FAILURE").count == 500)
    }

    @Test func anInvalidFieldNameIsRefusedBeforeSending() throws {
        guard TestJournald.canRun else { return }
        try TestJournald.ensureRunning()
        let job = Self.uniqueJob("badname")
        var entry = JournalEntry.jobStarted(job, tasks: 1, policy: .collectAll)
        #expect(throws: JournalError.self) { try entry.append("gather_lower", "dropped by journald") }
        #expect(throws: JournalError.self) { try entry.append("_UID", "forged") }
        #expect(Self.write([entry]).sent == 1)
        let json = try TestJournald.readBack(match: ["GATHER_JOB=\(job.id)"])
        try #require(json.count == 1)
        #expect(json[0]["gather_lower"] == nil)
        #expect(json[0]["_UID"] == "0")
    }

    @Test func followModeSeesEntriesWrittenAfterTheTail() throws {
        guard TestJournald.canRun else { return }
        try TestJournald.ensureRunning()
        let job = Self.uniqueJob("follow")
        _ = Self.write([.jobStarted(job, tasks: 1, policy: .collectAll)])
        _ = try TestJournald.readBack(match: ["GATHER_JOB=\(job.id)"]) // synced
        let reader = try JournalReader(job: job.id)
        try reader.seekTail()
        #expect(try reader.next() == nil)

        // The writer runs on its own thread while this one follows.
        let writer = JournalWriter(configuration: .init(target: .journal))
        writer.log(.jobSucceeded(job, tasks: 1, policy: .collectAll, elapsed: .milliseconds(1500)))
        var seen: [String] = []
        let deadline = ContinuousClock.now + .seconds(20)
        try reader.follow(poll: .milliseconds(100), until: { !seen.isEmpty || ContinuousClock.now > deadline }) {
            seen.append($0.message)
        }
        writer.close()
        #expect(seen == ["job \(job.id) (follow job) succeeded: 1 task in 1.5s"])
    }
}
