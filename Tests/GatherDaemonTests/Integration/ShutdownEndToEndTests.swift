import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension RobustnessEndToEnd {
    /// SIGTERM with jobs running, the notify protocol around it, and the
    /// watchdog pings (SPEC §9).
    @Suite("gatherd end to end: SIGTERM and the notify socket", .serialized, .timeLimit(.minutes(2)))
    struct ShutdownEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        /// One job ignores SIGTERM, so the stop takes its 2 s grace; a
        /// `restartable` job stays in `active/` and runs at the next start.
        @Test func sigtermInterruptsRunningJobsAndExitsWithinTheGrace() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("term")
            // Dropped before the start: claimed by the first scan, before READY=1.
            let plain = try harness.drop(harness.id("plain"), """
                {"kill_grace": "2s", "tasks": [
                  {"name": "obedient", "command": ["sleep", "30"]},
                  {"name": "stubborn", "command": ["sh", "-c", "trap '' TERM; sleep 30"]}
                ]}
                """)
            let mark = harness.spool + "/mark"
            let restartable = try harness.drop(harness.id("restartable"), """
                {"kill_grace": "1s", "restartable": true, "tasks": [
                  {"name": "r", "command": ["sh", "-c", "if [ -e \(mark) ]; then exit 0; fi; : > \(mark); exec sleep 30"]}
                ]}
                """)
            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try harness.start(notifySocket: notify.path)

            let ready = try #require(await notify.message("READY"))
            #expect(ready.value("READY") == "1")
            // The first scan came before READY=1: both jobs were already claimed and started.
            #expect(ready.value("STATUS")?.hasPrefix("2 jobs running") == true, "\(ready.value("STATUS") ?? "no STATUS")")
            let running = await eventually {
                harness.processGroups(plain).count == 2 && harness.processGroups(restartable).count == 1
            }
            try #require(running, "\(harness.listing())")
            let groups = harness.processGroups(plain) + harness.processGroups(restartable)
            // STATUS= follows the tasks as they start (SPEC §9: kept current).
            let counted = await notify.message("STATUS", limit: .seconds(5)) { $0.hasPrefix("2 jobs running (3 tasks)") }
            #expect(counted != nil, "\(notify.messages.compactMap { $0.value("STATUS") })")

            let clock = ContinuousClock()
            let began = clock.now
            daemon.kill(SIGTERM)
            let status = await daemon.exitStatus(limit: .seconds(20))
            let took = began.duration(to: clock.now)
            #expect(status == 0, "\(daemon.stderr)")
            print(String(format: "SIGTERM with a 2 s grace to exit: %.2f s", seconds(took)))
            // Grace 2 s + 1 s, with a generous margin; the stubborn task held it for its grace.
            #expect(took < .seconds(8), "stop took \(took)")
            #expect(took >= .milliseconds(1500), "stop took \(took): the stubborn task was not given its grace")

            let record = try harness.record(plain)
            #expect(record.area == "failed")
            #expect(record.state == "interrupted")
            #expect(record.error == nil)
            for task in ["obedient", "stubborn"] {
                #expect(record.outcome(task) == "cancelled")
                #expect(record.reason(task) == "daemon stopping")
            }
            #expect(record.task("stubborn")?["signal"] as? String == "SIGKILL")
            #expect(harness.area(of: restartable) == "active")
            #expect(!FileManager.default.fileExists(atPath: "\(harness.spool)/active/\(restartable)/result.json"))
            for pgid in groups { #expect(liveMembers(ofGroup: pgid).isEmpty, "group \(pgid) left behind") }

            #expect(notify.values("STOPPING") == ["1"])
            let stoppingMessage = notify.messages.first { $0.value("STOPPING") != nil }
            #expect(stoppingMessage?.value("STATUS") == "stopping: 2 jobs interrupted")
            // The longest grace of a running job (2 s) + 10 s.
            #expect(notify.values("EXTEND_TIMEOUT_USEC") == ["12000000"])
            #expect(notify.values("WATCHDOG").isEmpty, "pings without WATCHDOG_USEC")
            let stopping = try await daemonEntries(pid: daemon.pid, messageID: MessageID.daemonStopping)
            #expect(stopping.count == 1)
            #expect(stopping.first?["MESSAGE"] == "gatherd stopping: 2 jobs interrupted")
            #expect(try await harness.journalEntries(plain).contains { $0["MESSAGE_ID"] == MessageID.jobInterrupted })

            // The next start runs the restartable job again (it succeeds this time).
            let next = try await harness.runToIdle()
            #expect(next.process.terminationStatus == 0)
            #expect(try harness.record(restartable).state == "succeeded")
            #expect(try harness.record(plain).state == "interrupted")
        }

        @Test func watchdogPingsAtHalfTheInterval() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("watchdog")
            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try harness.start(notifySocket: notify.path, watchdogUSec: 2_000_000)
            let ready = try #require(await notify.message("READY"))
            let first = try #require(await notify.message("WATCHDOG", limit: .seconds(5)))
            #expect(first.value("WATCHDOG") == "1")
            // Every 1 s (half of 2 s): the first within ~1.5 s of READY=1.
            #expect(ready.at.duration(to: first.at) < .milliseconds(1500))
            await pause(.milliseconds(3200))
            let pings = notify.messages.filter { $0.value("WATCHDOG") != nil }
            #expect(pings.count >= 3, "\(pings.count) pings in ~4 s")
            let gaps = zip(pings, pings.dropFirst()).map { seconds($0.at.duration(to: $1.at)) }
            // Each before WATCHDOG_USEC (2 s) runs out, which is when systemd would kill it.
            #expect(gaps.allSatisfy { $0 < 2 }, "\(gaps)")
            print(String(format: "watchdog (2 s): first ping %.3f s after READY=1, gaps ", seconds(ready.at.duration(to: first.at)))
                  + gaps.map { String(format: "%.3f", $0) }.joined(separator: " "))
            daemon.kill(SIGTERM)
            #expect(await daemon.exitStatus(limit: .seconds(10)) == 0)
        }

        /// SIGTERM in the middle of a burst: running jobs are interrupted, claimed
        /// jobs that never started stay queued in `active/`, unclaimed files stay
        /// in `incoming/`; the next start runs them all, and nothing is lost.
        @Test func sigtermDuringABurstLosesNothing() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("termburst")
            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try harness.startNiced(["--max-jobs", "4"], notifySocket: notify.path)
            try #require(await notify.message("READY") != nil)
            let ids = (0..<300).map { harness.id("j\($0)") }
            let job = Data(#"{"tasks": [{"name": "t", "command": ["sleep", "0.1"]}]}"#.utf8)
            try await offPool { for id in ids { try job.write(to: URL(fileURLWithPath: "\(harness.spool)/incoming/.\(id).tmp")) } }
            for id in ids { try #require(rename("\(harness.spool)/incoming/.\(id).tmp", harness.incoming(id)) == 0) }
            await pause(.milliseconds(300))
            daemon.kill(SIGTERM)
            #expect(await daemon.exitStatus(limit: .seconds(20)) == 0, "\(daemon.stderr)")

            // What it left: queued jobs without a record, nothing half done.
            let left = harness.names(in: "active")
            #expect(!left.isEmpty, "the burst was over before SIGTERM: the test proves nothing")
            for id in left {
                #expect(!FileManager.default.fileExists(atPath: "\(harness.spool)/active/\(id)/result.json"))
                #expect(harness.stateFile(id)?["state"] as? String == "queued", "\(id)")
            }
            let interruptedBefore = ids.filter { (try? harness.record($0).state) == "interrupted" }
            #expect(interruptedBefore.count <= 4, "only running jobs (--max-jobs 4) are interrupted")

            let next = try await harness.runToIdle(["--max-jobs-per-user", "16"], limit: .seconds(90))
            #expect(next.process.terminationStatus == 0)
            let finished = harness.finishedJobs()
            #expect(Set(finished.keys) == Set(ids), "\(harness.listing())")
            #expect(finished.values.allSatisfy { $0.count == 1 })
            let interrupted = ids.filter { (try? harness.record($0).state) == "interrupted" }
            #expect(Set(interrupted) == Set(interruptedBefore))
            #expect(ids.allSatisfy { interrupted.contains($0) || (try? harness.record($0).state) == "succeeded" })
            print("SIGTERM during a burst of 300: \(left.count) left queued, \(interrupted.count) interrupted")
        }
    }
}
