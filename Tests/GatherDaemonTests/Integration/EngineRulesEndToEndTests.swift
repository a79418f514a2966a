import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// The real daemon: `first-success`, clean-up (`finally`) tasks and the
    /// retry rules (`retry_exit_codes`, `retry_delay_max`), each checked in the
    /// record and in the entries read back from journald.
    @Suite("gatherd end to end: first-success, finally, retry rules", .serialized, .timeLimit(.minutes(3)))
    struct EngineRulesEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func firstSuccessEndsTheRaceAndTheJobSucceeds() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("race")
            let id = harness.id("mirrors")
            let marker = harness.spool + "/skipped-ran"
            try harness.drop(id, """
                {"policy": "first-success", "kill_grace": "1s", "tasks": [
                  {"name": "mirror-a", "command": ["sh", "-c", "exit 6"]},
                  {"name": "mirror-b", "command": ["sh", "-c", "sleep 0.3"]},
                  {"name": "mirror-c", "command": ["sleep", "30"]},
                  {"name": "verify-c", "command": ["touch", "\(marker)"], "after": ["mirror-c"]}
                ]}
                """)
            let clock = ContinuousClock()
            let began = clock.now
            try await harness.runUntilIdle()
            #expect(began.duration(to: clock.now) < .seconds(15), "the sleeping mirror was not cancelled")
            let record = try harness.record(id)
            #expect(record.area == "done")
            #expect(record.state == "succeeded")
            #expect(record.error == nil)
            #expect(record.outcome("mirror-a") == "failed")
            #expect(record.task("mirror-a")?["exit_status"] as? Int == 6)
            #expect(record.outcome("mirror-b") == "succeeded")
            #expect(record.outcome("mirror-c") == "cancelled")
            #expect(record.reason("mirror-c") == "mirror-b succeeded")
            #expect(record.task("mirror-c")?["signal"] as? String == "SIGTERM")
            #expect(record.outcome("verify-c") == "skipped")
            #expect(record.reason("verify-c") == "mirror-b succeeded")
            #expect(!FileManager.default.fileExists(atPath: marker), "a skipped task ran")

            let entries = try harness.journal(id)
            let succeeded = try #require(entries.first { $0["MESSAGE_ID"] == "3a64dfccb9fd44149e8806b583dd28d4" })
            #expect(succeeded["MESSAGE"] == "job \(id) succeeded: mirror-b succeeded first, 1 cancelled, 1 skipped")
            #expect(succeeded["GATHER_POLICY"] == "first-success")
            #expect(succeeded["GATHER_STATE"] == "succeeded")
            // The error before the success is a task error, but the job has no compound error and never fails.
            #expect(entries.filter { $0["MESSAGE_ID"] == "e7c98ccc13c5485c9b53ae2da4518752" }.map { $0["GATHER_TASK"] } == ["mirror-a"])
            #expect(!entries.contains { $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66" })
            #expect(!entries.contains { $0["MESSAGE_ID"] == "e2597b54e3d4480399b18b5ba2fa1011" })
        }

        @Test func firstSuccessWithNoSuccessFailsWithEveryError() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("norace")
            let id = harness.id("mirrors")
            try harness.drop(id, """
                {"policy": "first-success", "tasks": [
                  {"name": "mirror-a", "command": ["sh", "-c", "exit 6"]},
                  {"name": "mirror-b", "command": ["sh", "-c", "sleep 0.2; exit 7"]}
                ]}
                """)
            try await harness.runUntilIdle()
            let record = try harness.record(id)
            #expect(record.area == "failed")
            #expect(record.state == "failed")
            let line = "CompoundError, 2 errors [mirror-a: exited with status 6; mirror-b: exited with status 7]"
            #expect(record.error == line)
            let entries = try harness.journal(id)
            let compound = try #require(entries.first { $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66" })
            #expect(compound["MESSAGE"] == "job \(id) failed: \(line)")
            #expect(compound.fields["GATHER_FAILURE"]?.sorted() == ["mirror-a: exited with status 6", "mirror-b: exited with status 7"].sorted())
        }

        @Test func aFinallyTaskRunsAfterCancelSiblingsStoppedTheRest() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("finally")
            let id = harness.id("cleanup")
            let lock = harness.spool + "/lock"
            let order = harness.spool + "/order"
            try #require(FileManager.default.createFile(atPath: lock, contents: Data()))
            try harness.drop(id, """
                {"policy": "cancel-siblings", "kill_grace": "1s", "tasks": [
                  {"name": "unlock", "command": ["sh", "-c", "echo unlock >> \(order); rm \(lock)"], "finally": true},
                  {"name": "dump", "command": ["sh", "-c", "sleep 0.3; exit 1"]},
                  {"name": "sleeper", "command": ["sh", "-c", "trap 'echo sleeper-stopped >> \(order); exit 143' TERM; sleep 30 & wait"]},
                  {"name": "prune", "command": ["true"], "after": ["dump"]}
                ]}
                """)
            try await harness.runUntilIdle()
            let record = try harness.record(id)
            #expect(record.state == "failed")
            #expect(record.outcome("sleeper") == "cancelled")
            #expect(record.reason("sleeper") == "dump failed")
            #expect(record.outcome("prune") == "skipped")
            #expect(record.outcome("unlock") == "succeeded")
            #expect(record.task("unlock")?["attempts"] as? Int == 1)
            #expect(!FileManager.default.fileExists(atPath: lock), "the clean-up task did not run")
            // It started only once every other task had ended.
            let lines = (try? String(contentsOfFile: order, encoding: .utf8))?.split(separator: "\n") ?? []
            #expect(lines == ["sleeper-stopped", "unlock"])
            #expect(record.error == "CompoundError, 1 error [dump: exited with status 1] (1 cancelled, 1 skipped)")
            let entries = try harness.journal(id)
            let failing = try #require(entries.first { $0["MESSAGE_ID"] == "e2597b54e3d4480399b18b5ba2fa1011" })
            #expect(failing["MESSAGE"] == "job \(id) failing: dump: exited with status 1")
        }

        @Test func anErrorOfAFinallyTaskFailsTheJob() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("finerr")
            let id = harness.id("cleanup")
            try harness.drop(id, """
                {"policy": "first-success", "tasks": [
                  {"name": "fetch", "command": ["true"]},
                  {"name": "unlock", "command": ["sh", "-c", "echo cannot unlock >&2; exit 2"], "finally": true}
                ]}
                """)
            try await harness.runUntilIdle()
            let record = try harness.record(id)
            #expect(record.area == "failed")
            #expect(record.state == "failed")
            #expect(record.outcome("fetch") == "succeeded")
            #expect(record.outcome("unlock") == "failed")
            #expect(record.task("unlock")?["stderr_tail"] as? String == "cannot unlock\n")
            #expect(record.error == "CompoundError, 1 error [unlock: exited with status 2]")
            let entries = try harness.journal(id)
            #expect(entries.contains {
                $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66"
                    && $0["MESSAGE"] == "job \(id) failed: CompoundError, 1 error [unlock: exited with status 2]"
            })
            #expect(!entries.contains { $0["MESSAGE_ID"] == "3a64dfccb9fd44149e8806b583dd28d4" })
        }

        @Test func aFinallyTaskRunsAfterACancelRequest() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("fincancel")
            let id = harness.id("cleanup")
            let started = harness.spool + "/started"
            let cleaned = harness.spool + "/cleaned"
            try harness.drop(id, """
                {"kill_grace": "1s", "tasks": [
                  {"name": "long", "command": ["sh", "-c", "touch \(started); sleep 30"]},
                  {"name": "unlock", "command": ["touch", "\(cleaned)"], "finally": true}
                ]}
                """)
            let daemon = try harness.start(["--exit-when-idle"])
            #expect(await RunningDaemon.waitUntil { FileManager.default.fileExists(atPath: started) }, "\(harness.listing())")
            try harness.cancel(id)
            #expect(await daemon.wait(limit: .seconds(30)) == 0, "gatherd still runs: \(harness.listing())")
            let record = try harness.record(id)
            #expect(record.state == "cancelled")
            #expect(record.outcome("long") == "cancelled")
            #expect(record.reason("long") == "cancelled by request")
            #expect(record.outcome("unlock") == "succeeded")
            #expect(FileManager.default.fileExists(atPath: cleaned))
            #expect(try harness.journal(id).contains { $0["MESSAGE_ID"] == "2169a4fd057e41759754083de8891473" })
        }

        @Test func retryExitCodesRetryOnlyTheListedStatuses() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("retrycodes")
            let id = harness.id("codes")
            let counter = harness.spool + "/count"
            // Exits 75 (listed: retried), then 0.
            let script = "n=$(cat \(counter) 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(counter); [ $n -ge 2 ] || exit 75"
            try harness.drop(id, """
                {"tasks": [
                  {"name": "tempfail", "command": ["sh", "-c", \(jsonString(script))],
                   "retries": 3, "retry_delay": "100ms", "retry_exit_codes": [75]},
                  {"name": "hard", "command": ["sh", "-c", "exit 1"], "retries": 3, "retry_delay": "100ms", "retry_exit_codes": [75]},
                  {"name": "slow", "command": ["sleep", "5"], "timeout": "200ms", "retries": 2, "retry_delay": "100ms",
                   "retry_exit_codes": [75, 143]}
                ]}
                """)
            try await harness.runUntilIdle()
            let record = try harness.record(id)
            #expect(record.outcome("tempfail") == "succeeded")
            #expect(record.task("tempfail")?["attempts"] as? Int == 2)
            // Not listed: final at once, retries left or not.
            #expect(record.outcome("hard") == "failed")
            #expect(record.task("hard")?["attempts"] as? Int == 1)
            // A timeout is final at once, whatever status the stopped process ended with.
            #expect(record.outcome("slow") == "timed-out")
            #expect(record.task("slow")?["attempts"] as? Int == 1)
            #expect(record.error == "CompoundError, 2 errors [hard: exited with status 1; slow: timed out after 200ms]")
            let retries = try harness.journal(id).filter { $0["MESSAGE_ID"] == "4bb6b2a0cdd34b54a19c326b2592c21d" }
            #expect(retries.map { $0["MESSAGE"] } == ["job \(id): tempfail: exited with status 75; retry 1 of 3 in 100ms"])
        }

        @Test func retryDelayMaxCapsTheDoubledDelay() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("retrycap")
            let id = harness.id("cap")
            let times = harness.spool + "/times"
            try harness.drop(id, """
                {"tasks": [
                  {"name": "flaky", "command": ["sh", "-c", "date +%s%N >> \(times); exit 23"],
                   "retries": 3, "retry_delay": "100ms", "retry_delay_max": "150ms"}
                ]}
                """)
            try await harness.runUntilIdle()
            let record = try harness.record(id)
            #expect(record.task("flaky")?["attempts"] as? Int == 4)
            let retries = try harness.journal(id).filter { $0["MESSAGE_ID"] == "4bb6b2a0cdd34b54a19c326b2592c21d" }
            #expect(retries.map { $0["MESSAGE"] } == [
                "job \(id): flaky: exited with status 23; retry 1 of 3 in 100ms",
                "job \(id): flaky: exited with status 23; retry 2 of 3 in 150ms",
                "job \(id): flaky: exited with status 23; retry 3 of 3 in 150ms",
            ])
            let stamps = ((try? String(contentsOfFile: times, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int64($0) }
            try #require(stamps.count == 4, "times: \(stamps)")
            #expect(stamps[2] - stamps[1] >= 150_000_000, "second retry came too early")
            #expect(stamps[3] - stamps[2] >= 150_000_000, "third retry came too early")
        }
    }
}
