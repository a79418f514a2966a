import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// The real daemon on a temporary spool, each policy end to end: the record
    /// and the journal entries, read back from a real journald.
    @Suite("gatherd end to end: policies", .serialized, .timeLimit(.minutes(3)))
    struct PolicyEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func collectAllRecordsEveryFailure() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("collect")
            let id = harness.id("all")
            try harness.drop(id, """
                {"policy": "collect-all", "tasks": [
                  {"name": "a", "command": ["sh", "-c", "echo out-a; echo err-a >&2; exit 3"]},
                  {"name": "b", "command": ["true"]},
                  {"name": "c", "command": ["sh", "-c", "sleep 0.2; exit 4"]}
                ]}
                """)
            let daemon = try await harness.runUntilIdle()
            #expect(daemon.process.terminationStatus == 0)
            let record = try harness.record(id)
            #expect(record.area == "failed")
            #expect(record.state == "failed")
            #expect(record.error == "CompoundError, 2 errors [a: exited with status 3; c: exited with status 4]")
            #expect(record.outcome("b") == "succeeded")
            #expect(record.task("a")?["stderr_tail"] as? String == "err-a\n")
            #expect(record.task("a")?["exit_status"] as? Int == 3)

            let entries = try harness.journal(id)
            let compound = try #require(entries.first { $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66" })
            #expect(compound["MESSAGE"] == "job \(id) failed: CompoundError, 2 errors [a: exited with status 3; c: exited with status 4]")
            #expect(compound.fields["GATHER_FAILURE"]?.sorted() == ["a: exited with status 3", "c: exited with status 4"].sorted())
            #expect(compound["PRIORITY"] == "3")
            #expect(compound["GATHER_STATE"] == "failed")
            #expect(entries.contains { $0["MESSAGE"] == "out-a" && $0["GATHER_TASK"] == "a" && $0["GATHER_STREAM"] == "stdout" })
            #expect(entries.contains { $0["MESSAGE_ID"] == "d163e738219640b9b685a8d8ba3726fd" })
            // collect-all never logs "job failing".
            #expect(!entries.contains { $0["MESSAGE_ID"] == "e2597b54e3d4480399b18b5ba2fa1011" })
        }

        @Test func failFastSkipsWhatHasNotStartedAndLogsFailingFirst() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("failfast")
            let id = harness.id("ff")
            try harness.drop(id, """
                {"policy": "fail-fast", "max_parallel": 2, "tasks": [
                  {"name": "first", "command": ["sh", "-c", "exit 1"]},
                  {"name": "running", "command": ["sh", "-c", "sleep 0.5; exit 0"]},
                  {"name": "never", "command": ["true"]}
                ]}
                """)
            try await harness.runUntilIdle()
            let record = try harness.record(id)
            #expect(record.outcome("first") == "failed")
            #expect(record.outcome("running") == "succeeded")
            #expect(record.outcome("never") == "skipped")
            #expect(record.reason("never") == "first failed")
            #expect(record.error == "CompoundError, 1 error [first: exited with status 1] (1 skipped)")
            let entries = try harness.journal(id)
            let failing = try #require(entries.first { $0["MESSAGE_ID"] == "e2597b54e3d4480399b18b5ba2fa1011" })
            #expect(failing["MESSAGE"] == "job \(id) failing: first: exited with status 1")
            let failed = try #require(entries.first { $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66" })
            // "job failing" is logged before the job's end.
            #expect((Int(failing["__REALTIME_TIMESTAMP"] ?? "") ?? 0) <= (Int(failed["__REALTIME_TIMESTAMP"] ?? "") ?? 0))
        }

        @Test func cancelSiblingsStopsASleeperAndItsGrandchildWithinTheGrace() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("cancel")
            let id = harness.id("cs")
            let pidFile = harness.spool + "/grandchild.pid"
            try harness.drop(id, """
                {"policy": "cancel-siblings", "kill_grace": "1s", "tasks": [
                  {"name": "dump", "command": ["sh", "-c", "sleep 0.5; exit 1"]},
                  {"name": "sleeper", "command": ["sh", "-c", "sleep 30 & echo $! > \(pidFile); wait"]},
                  {"name": "prune", "command": ["true"], "after": ["dump", "sleeper"]}
                ]}
                """)
            let clock = ContinuousClock()
            let began = clock.now
            try await harness.runUntilIdle()
            // sleep 30 would hold the job for 30 s: it was stopped (1 s grace, generous margin).
            #expect(began.duration(to: clock.now) < .seconds(15))
            let record = try harness.record(id)
            #expect(record.outcome("sleeper") == "cancelled")
            #expect(record.reason("sleeper") == "dump failed")
            #expect(record.task("sleeper")?["signal"] as? String == "SIGTERM")
            #expect(record.outcome("prune") == "skipped")
            #expect(record.reason("prune") == "dump did not succeed")
            #expect(record.error == "CompoundError, 1 error [dump: exited with status 1] (1 cancelled, 1 skipped)")
            let grandchild = try #require(Int32((try? String(contentsOfFile: pidFile, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
            #expect(processIsGone(grandchild))
        }
    }
}
