import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension RobustnessEndToEnd {
    /// `kill -9` of gatherd while jobs run, then a restart, ten times over (SPEC §3
    /// recovery): nothing dropped is lost, nothing is recorded twice, no task
    /// process outlives the restart, and only a `restartable` job runs again.
    @Suite("gatherd end to end: crash and restart", .serialized, .timeLimit(.minutes(4)))
    struct CrashRecoveryEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        /// Two jobs run (one `restartable`), one waits in the queue (`--max-jobs 2`),
        /// three more are dropped just before the kill (caught anywhere between
        /// `incoming/` and `active/`), one more while the daemon is down.
        @Test func killNineWhileJobsRunThenRestartTenTimes() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("crash")
            let arguments = ["--kill-grace", "1s", "--max-jobs", "2"]
            var dropped: [String] = []
            var interruptedIDs: Set<String> = []
            var durations: [Duration] = []
            let clock = ContinuousClock()
            let notify = try NotifyLog()
            defer { notify.stop() }

            for iteration in 1...10 {
                let began = clock.now
                let daemon = try harness.startNiced(arguments, notifySocket: notify.path)
                // Dropped after the first scan, so the watcher claims them in the order dropped.
                try #require(await notify.message("READY", limit: .seconds(20)) { _ in notify.values("READY").count == iteration } != nil)
                let plain = try harness.drop(harness.id("plain\(iteration)"), """
                    {"kill_grace": "1s", "tasks": [
                      {"name": "s1", "command": ["sleep", "30"]},
                      {"name": "s2", "command": ["sh", "-c", "sleep 30 & wait"]}
                    ]}
                    """)
                // The second run finds the mark and succeeds at once.
                let mark = "\(harness.spool)/mark-\(iteration)"
                let restartable = try harness.drop(harness.id("restartable\(iteration)"), """
                    {"kill_grace": "1s", "restartable": true, "tasks": [
                      {"name": "r", "command": ["sh", "-c", "if [ -e \(mark) ]; then exit 0; fi; : > \(mark); exec sleep 30"]}
                    ]}
                    """)
                let queued = try harness.drop(harness.id("queued\(iteration)"), quickJob)
                dropped += [plain, restartable, queued]
                interruptedIDs.insert(plain)

                let running = await eventually {
                    harness.processGroups(plain).count == 2 && harness.processGroups(restartable).count == 1
                        && harness.stateFile(queued) != nil
                }
                try #require(running, "iteration \(iteration): jobs not running: \(harness.listing())\n\(daemon.stderr)")
                let groups = harness.processGroups(plain) + harness.processGroups(restartable)
                for k in 1...3 { dropped.append(try harness.drop(harness.id("burst\(iteration)-\(k)"), quickJob)) }

                daemon.kill(SIGKILL)
                #expect(await daemon.exitStatus(limit: .seconds(10)) != nil)
                // Its tasks outlive it: recovery must stop them.
                #expect(groups.allSatisfy { !liveMembers(ofGroup: $0).isEmpty })
                dropped.append(try harness.drop(harness.id("late\(iteration)"), quickJob))

                let restart = try await harness.runToIdle(arguments, limit: .seconds(60))
                #expect(restart.process.terminationStatus == 0, "\(restart.stderr)")
                durations.append(began.duration(to: clock.now))

                for pgid in groups {
                    #expect(liveMembers(ofGroup: pgid).isEmpty, "iteration \(iteration): group \(pgid) still has processes")
                    #expect(processIsGone(pgid))
                }
                let interrupted = try harness.record(plain)
                #expect(interrupted.state == "interrupted")
                #expect(interrupted.area == "failed")
                for task in ["s1", "s2"] {
                    #expect(interrupted.outcome(task) == "cancelled")
                    #expect(interrupted.reason(task) == "daemon restarted")
                }
                let entries = try await harness.journalEntries(plain).filter { $0["MESSAGE_ID"] == MessageID.jobInterrupted }
                #expect(entries.count == 1, "iteration \(iteration): \(entries.count) interrupted entries")
                #expect(try harness.record(restartable).state == "succeeded")
                #expect(FileManager.default.fileExists(atPath: mark))
                for id in dropped where !interruptedIDs.contains(id) {
                    #expect(try harness.record(id).state == "succeeded", "iteration \(iteration): \(id)")
                }
                // Every file dropped so far has exactly one record, and there is no other.
                let finished = harness.finishedJobs()
                #expect(Set(finished.keys) == Set(dropped), "iteration \(iteration): \(harness.listing())")
                #expect(finished.values.allSatisfy { $0.count == 1 })
                #expect(harness.names(in: "active").isEmpty && harness.names(in: "incoming").isEmpty)
            }
            let figures = durations.map(seconds).sorted()
            print(String(format: "crash and restart: %d iterations, median %.2f s, max %.2f s",
                         figures.count, figures[figures.count / 2], figures.last ?? 0))
        }

        private let quickJob = #"{"tasks": [{"name": "q", "command": ["true"]}]}"#
    }
}
