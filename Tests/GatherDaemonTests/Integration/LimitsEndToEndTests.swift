import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// The real daemon's limits (SPEC §8, §9): `--max-tasks` shared round-robin
    /// between jobs, `--max-jobs-per-user` and `--max-queued-per-user`.
    @Suite("gatherd end to end: limits", .serialized, .timeLimit(.minutes(3)))
    struct LimitsEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func maxTasksIsSharedBetweenTwoBigJobs() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("max-tasks")
            let log = harness.spool + "/tasks.log"
            // Each task logs its start and end (ns) around a short sleep; lines
            // this short are appended atomically.
            let script = jsonString(
                "echo \"$GATHER_JOB + $(date +%s%N)\" >> \(log); sleep 0.05; echo \"$GATHER_JOB - $(date +%s%N)\" >> \(log)")
            let tasks = (0..<20).map { #"{"name": "t\#($0)", "command": ["sh", "-c", \#(script)]}"# }
            let job = #"{"tasks": [\#(tasks.joined(separator: ", "))]}"#
            let first = try harness.drop(harness.id("a"), job)
            let second = try harness.drop(harness.id("b"), job)
            try await harness.runUntilIdle(["--max-tasks", "2"])
            let records = [try harness.record(first), try harness.record(second)]
            for record in records { #expect(record.state == "succeeded") }

            // Never more than 2 at once, and the 2 slots were used.
            let events = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { line in
                let parts = line.split(separator: " ")
                return (job: String(parts[0]), starts: parts[1] == "+", time: Int64(parts[2]) ?? 0)
            }
            #expect(events.count == 80)
            var running = 0
            var most = 0
            for event in events.sorted(by: { $0.time < $1.time }) {
                running += event.starts ? 1 : -1
                most = max(most, running)
            }
            #expect(most == 2, "at most \(most) tasks ran at once")

            // Both jobs progress (record start times): each job started tasks
            // before the other's last one; one that took every slot first would not.
            var starts: [String: [Int64]] = [:]
            for (record, id) in zip(records, [first, second]) {
                starts[id] = try record.tasks.map { try #require(JobRecordJSON.milliseconds($0["started_at"] as? String)) }
            }
            let a = starts[first] ?? [], b = starts[second] ?? []
            #expect(a.count == 20 && b.count == 20)
            #expect((a.min() ?? .max) < (b.max() ?? .min) && (b.min() ?? .max) < (a.max() ?? .min))
            // Round-robin (log, ns precision): once both run, and while both
            // have tasks left, neither starts more than 3 in a row.
            let sequence = events.filter(\.starts).sorted { $0.time < $1.time }.map(\.job)
            let bothRunning = max(sequence.firstIndex(of: first) ?? 0, sequence.firstIndex(of: second) ?? 0)
            let oneDone = min(sequence.lastIndex(of: first) ?? 0, sequence.lastIndex(of: second) ?? 0)
            var longest = 0
            var run = 0
            for index in bothRunning...max(bothRunning, oneDone) {
                run = index > bothRunning && sequence[index] == sequence[index - 1] ? run + 1 : 1
                longest = max(longest, run)
            }
            #expect(longest <= 3, "starts in a row: \(longest); order: \(sequence.map { $0 == first ? "a" : "b" }.joined())")
        }

        @Test func aUsersSecondJobWaitsWhileAnotherUsersJobRunsAtOnce() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("per-user")
            // Names sort in drop order, so arrival order is certain even within one clock tick.
            let first = try harness.drop(harness.id("a-root"), #"{"tasks": [{"name": "t", "command": ["sleep", "1"]}]}"#)
            let second = try harness.drop(harness.id("b-root"), #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)
            let other = try harness.drop(harness.id("c-nobody"), """
                {"tasks": [{"name": "who", "command": ["sh", "-c", "echo uid=$(id -u) user=$USER"]}]}
                """, owner: DaemonHarness.nobody)
            try await harness.runUntilIdle(["--max-jobs-per-user", "1"])

            let firstRecord = try harness.record(first)
            let secondRecord = try harness.record(second)
            let otherRecord = try harness.record(other)
            for record in [firstRecord, secondRecord, otherRecord] { #expect(record.state == "succeeded") }
            let firstEnd = try #require(firstRecord.time("finished_at"))
            let secondStart = try #require(secondRecord.time("started_at"))
            let otherStart = try #require(otherRecord.time("started_at"))
            #expect(secondStart >= firstEnd, "root's second job started while its first ran")
            #expect(otherStart < firstEnd, "nobody's job waited for root's")
            // Received together, but the second waited about the first's second.
            let received = try #require(secondRecord.time("received_at"))
            #expect(secondStart - received >= 900)

            #expect(otherRecord.object["uid"] as? Int == Int(DaemonHarness.nobody))
            #expect(otherRecord.object["run_as"] as? String == "nobody")
            let output = try harness.journal(other).first { $0["GATHER_TASK"] == "who" && $0["GATHER_STREAM"] == "stdout" }
            #expect(output?["MESSAGE"] == "uid=65534 user=nobody")
        }

        @Test func theThirdWaitingFileOfAUserIsRejectedWhenTheQueueIsFull() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("queue-full")
            let marker = harness.spool + "/third-ran"
            let ids = try ["q1", "q2", "q3"].map { name in
                try harness.drop(harness.id(name), #"{"tasks": [{"name": "t", "command": ["sh", "-c", "[ $GATHER_JOB != \#(harness.id("q3")) ] || touch \#(marker)"]}]}"#)
            }
            // Another user's queue is its own.
            let other = try harness.drop(harness.id("q4-nobody"), #"{"tasks": [{"name": "t", "command": ["true"]}]}"#,
                                         owner: DaemonHarness.nobody)
            try await harness.runUntilIdle(["--max-queued-per-user", "2"])

            #expect(try harness.record(ids[0]).state == "succeeded")
            #expect(try harness.record(ids[1]).state == "succeeded")
            #expect(try harness.record(other).state == "succeeded")
            let rejected = try harness.record(ids[2])
            #expect(rejected.area == "rejected")
            #expect(rejected.state == "rejected")
            #expect(rejected.error?.contains("queue full") == true, "\(rejected.error ?? "nil")")
            #expect(!FileManager.default.fileExists(atPath: marker), "the rejected job ran")
            let entry = try #require(try harness.journal(ids[2]).first { $0["MESSAGE_ID"] == "14aab89053904a78921c57d0c64d6cac" })
            #expect(entry["MESSAGE"]?.hasPrefix("job file \(ids[2]).json rejected: queue full") == true, "\(entry["MESSAGE"] ?? "nil")")
        }
    }
}
