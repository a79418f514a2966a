import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// The real daemon: a task timeout and a job deadline end real processes
    /// (and their children) within the grace, with the SPEC §5 lines in the
    /// record and the journal.
    @Suite("gatherd end to end: timeouts", .serialized, .timeLimit(.minutes(3)))
    struct TimeoutEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        /// A shell that records its own pid and a background child's, then waits:
        /// both must be gone once the task is stopped.
        private func sleeper(_ pids: String) -> String {
            jsonString("sleep 30 & echo $! > \(pids).child; echo $$ > \(pids).main; wait")
        }

        @Test func aTaskTimeoutStopsTheTaskAndItsChild() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("task-timeout")
            let id = harness.id("slow")
            let pids = harness.spool + "/slow"
            try harness.drop(id, """
                {"kill_grace": "1s", "tasks": [
                  {"name": "slow", "command": ["sh", "-c", \(sleeper(pids))], "timeout": "1s"},
                  {"name": "quick", "command": ["true"]}
                ]}
                """)
            let clock = ContinuousClock()
            let began = clock.now
            try await harness.runUntilIdle()
            // 1 s timeout + 1 s grace, with a generous margin; sleep 30 would take 30 s.
            #expect(began.duration(to: clock.now) < .seconds(7))
            let record = try harness.record(id)
            #expect(record.state == "failed")
            #expect(record.outcome("slow") == "timed-out")
            #expect(record.outcome("quick") == "succeeded")
            #expect(record.task("slow")?["signal"] as? String == "SIGTERM")
            #expect(record.error == "CompoundError, 1 error [slow: timed out after 1s]")
            let duration = try #require(record.task("slow")?["duration_ms"] as? Int)
            #expect(duration >= 1000, "stopped before its timeout")
            for suffix in ["main", "child"] {
                let pid = try #require(await harness.waitForPID(in: "\(pids).\(suffix)", limit: .seconds(1)))
                #expect(processIsGone(pid), "\(suffix) process \(pid) still runs")
            }

            let entries = try harness.journal(id)
            let error = try #require(entries.first { $0["MESSAGE_ID"] == "e7c98ccc13c5485c9b53ae2da4518752" })
            #expect(error["MESSAGE"] == "job \(id): slow: timed out after 1s")
            #expect(error["GATHER_OUTCOME"] == "timed-out")
            #expect(error["GATHER_SIGNAL"] == "SIGTERM")
            let compound = try #require(entries.first { $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66" })
            #expect(compound.fields["GATHER_FAILURE"] == ["slow: timed out after 1s"])
        }

        @Test func aTimedOutAttemptIsRetriedAndLoggedWithItsSignal() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("timeout-retry")
            let id = harness.id("again")
            try harness.drop(id, """
                {"tasks": [
                  {"name": "stuck", "command": ["sleep", "30"], "timeout": "300ms", "retries": 1, "retry_delay": "100ms"}
                ]}
                """)
            try await harness.runUntilIdle()
            let record = try harness.record(id)
            #expect(record.outcome("stuck") == "timed-out")
            #expect(record.task("stuck")?["attempts"] as? Int == 2)
            #expect(record.error == "CompoundError, 1 error [stuck: timed out after 300ms]")
            let entries = try harness.journal(id)
            let retry = try #require(entries.first { $0["MESSAGE_ID"] == "4bb6b2a0cdd34b54a19c326b2592c21d" })
            #expect(retry["MESSAGE"] == "job \(id): stuck: timed out after 300ms; retry 1 of 1 in 100ms")
            #expect(retry["GATHER_ATTEMPT"] == "1")
            #expect(retry["GATHER_OUTCOME"] == "timed-out")
            #expect(retry["GATHER_SIGNAL"] == "SIGTERM")
            let error = try #require(entries.first { $0["MESSAGE_ID"] == "e7c98ccc13c5485c9b53ae2da4518752" })
            #expect(error["GATHER_ATTEMPT"] == "2")
            #expect(error["GATHER_SIGNAL"] == "SIGTERM")
        }

        @Test func aJobTimeoutStopsRunningTasksAndSkipsTheRest() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("job-timeout")
            let id = harness.id("deadline")
            let pids = harness.spool + "/long"
            let marker = harness.spool + "/later-ran"
            // max_parallel 1: `later` waits for `long`'s slot and never gets it.
            try harness.drop(id, """
                {"timeout": "2s", "kill_grace": "1s", "max_parallel": 1, "tasks": [
                  {"name": "long", "command": ["sh", "-c", \(sleeper(pids))]},
                  {"name": "later", "command": ["touch", "\(marker)"]}
                ]}
                """)
            let clock = ContinuousClock()
            let began = clock.now
            try await harness.runUntilIdle()
            #expect(began.duration(to: clock.now) < .seconds(8))
            let record = try harness.record(id)
            #expect(record.state == "failed")
            #expect(record.outcome("long") == "timed-out")
            #expect(record.outcome("later") == "skipped")
            #expect(record.reason("later") == "job timed out")
            #expect(record.error == "CompoundError, 1 error [long: timed out after 2s (job timeout)] (1 skipped)")
            #expect(!FileManager.default.fileExists(atPath: marker), "a skipped task ran")
            for suffix in ["main", "child"] {
                let pid = try #require(await harness.waitForPID(in: "\(pids).\(suffix)", limit: .seconds(1)))
                #expect(processIsGone(pid), "\(suffix) process \(pid) still runs")
            }

            let entries = try harness.journal(id)
            let compound = try #require(entries.first { $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66" })
            #expect(compound["MESSAGE"] == "job \(id) failed: CompoundError, 1 error [long: timed out after 2s (job timeout)] (1 skipped)")
            #expect(compound["GATHER_STATE"] == "failed")
            let error = try #require(entries.first { $0["MESSAGE_ID"] == "e7c98ccc13c5485c9b53ae2da4518752" })
            #expect(error["MESSAGE"] == "job \(id): long: timed out after 2s (job timeout)")
            #expect(error["GATHER_SIGNAL"] == record.task("long")?["signal"] as? String)
        }

        @Test func aJobTimeoutWithNothingRunningAddsTheJobError() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("job-timeout-idle")
            let id = harness.id("waiting")
            // The task fails at once and waits 30 s to retry: at the deadline nothing runs.
            try harness.drop(id, """
                {"timeout": "1s", "tasks": [
                  {"name": "retrier", "command": ["sh", "-c", "exit 5"], "retries": 3, "retry_delay": "30s"}
                ]}
                """)
            let clock = ContinuousClock()
            let began = clock.now
            try await harness.runUntilIdle()
            #expect(began.duration(to: clock.now) < .seconds(6))
            let record = try harness.record(id)
            #expect(record.state == "failed")
            // A task waiting to retry keeps its last outcome.
            #expect(record.outcome("retrier") == "failed")
            #expect(record.task("retrier")?["attempts"] as? Int == 1)
            #expect(record.error == "CompoundError, 2 errors [retrier: exited with status 5; job: timed out after 1s]")
            let compound = try #require(try harness.journal(id).first { $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66" })
            #expect(compound.fields["GATHER_FAILURE"]?.sorted() == ["retrier: exited with status 5", "job: timed out after 1s"].sorted())
        }
    }
}
