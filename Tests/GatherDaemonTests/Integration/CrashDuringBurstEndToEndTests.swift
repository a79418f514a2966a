import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension RobustnessEndToEnd {
    /// More `kill -9` cases of SPEC §3 recovery: a crash at a random moment of a
    /// burst of claims, and a `restartable` job that crashes on every run.
    @Suite("gatherd end to end: crashes during claims and reruns", .serialized, .timeLimit(.minutes(3)))
    struct CrashDuringBurstEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        /// The kill lands anywhere in claim, run and finish of many jobs; after
        /// the restart every file has exactly one record and nothing is left over.
        @Test func killNineAtARandomMomentOfABurst() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("burstcrash")
            let notify = try NotifyLog()
            defer { notify.stop() }
            var dropped: [String] = []
            let job = Data(#"{"tasks": [{"name": "a", "command": ["true"]}, {"name": "b", "command": ["sleep", "0.05"]}]}"#.utf8)
            for round in 1...4 {
                let daemon = try harness.startNiced(["--kill-grace", "1s"], notifySocket: notify.path)
                try #require(await notify.message("READY") { _ in notify.values("READY").count == round } != nil)
                let ids = (0..<150).map { harness.id("r\(round)-\($0)") }
                try await offPool { for id in ids { try job.write(to: URL(fileURLWithPath: "\(harness.spool)/incoming/.\(id).tmp")) } }
                for id in ids { try #require(rename("\(harness.spool)/incoming/.\(id).tmp", harness.incoming(id)) == 0) }
                dropped += ids
                await pause(.milliseconds(Int.random(in: 0...400)))
                daemon.kill(SIGKILL)
                #expect(await daemon.exitStatus(limit: .seconds(10)) != nil)
                let caught = "incoming \(harness.names(in: "incoming").count), active \(harness.names(in: "active").count)"

                // Task processes orphaned by the kill stay zombies where init does not
                // reap; recovery then waits out the grace for them: keep it short.
                let restarted = ContinuousClock.now
                let restart = try await harness.runToIdle(["--kill-grace", "1s"], limit: .seconds(90))
                let restartTook = restarted.duration(to: .now)
                #expect(restart.process.terminationStatus == 0, "\(restart.stderr)")
                let finished = harness.finishedJobs()
                #expect(Set(finished.keys) == Set(dropped), "round \(round) (killed with \(caught)): \(harness.listing())")
                #expect(finished.values.allSatisfy { $0.count == 1 })
                #expect(harness.names(in: "active").isEmpty && harness.names(in: "incoming").isEmpty)
                // A job is either run to its end or was cut short by the kill; never rejected.
                for id in ids {
                    let state = try harness.record(id).state
                    #expect(state == "succeeded" || state == "interrupted", "\(id): \(state ?? "no state")")
                }
                print("crash during a burst, round \(round): killed with \(caught); restart to idle \(restartTook)")
            }
        }

        /// A `restartable` job runs at most 3 times in all (SPEC §3): after the
        /// third crash it is recorded `interrupted` and not started again.
        @Test func restartableJobRunsAtMostThreeTimes() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("reruns")
            let counter = harness.spool + "/runs"
            let id = try harness.drop(harness.id("again"), """
                {"kill_grace": "1s", "restartable": true, "tasks": [
                  {"name": "t", "command": ["sh", "-c", "echo run >> \(counter); exec sleep 30"]}
                ]}
                """)
            var groups: [pid_t] = []
            for run in 1...3 {
                let daemon = try harness.startNiced(["--kill-grace", "1s"])
                let running = await eventually {
                    harness.stateFile(id)?["runs"] as? Int == run && !harness.processGroups(id).isEmpty
                }
                try #require(running, "run \(run) did not start: \(harness.listing())\n\(daemon.stderr)")
                groups += harness.processGroups(id)
                daemon.kill(SIGKILL)
                #expect(await daemon.exitStatus(limit: .seconds(10)) != nil)
            }
            let last = try await harness.runToIdle(["--kill-grace", "1s"])
            #expect(last.process.terminationStatus == 0)
            let record = try harness.record(id)
            #expect(record.state == "interrupted")
            #expect(record.outcome("t") == "cancelled")
            let runs = (try? String(contentsOfFile: counter, encoding: .utf8)) ?? ""
            #expect(runs.split(separator: "\n").count == 3, "runs: \(runs)")
            for pgid in groups { #expect(liveMembers(ofGroup: pgid).isEmpty, "group \(pgid) left behind") }
        }

        /// Leftover tasks that ignore SIGTERM, in several jobs: recovery signals
        /// them all at once, so the restart is ready after one grace, not one per job.
        @Test func recoveryStopsTheLeftoversOfEveryJobWithinOneGrace() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("leftovers")
            let arguments = ["--kill-grace", "2s", "--max-jobs", "4"]
            let ids = try (1...4).map { n in
                try harness.drop(harness.id("stubborn\(n)"), """
                    {"tasks": [{"name": "t", "command": ["sh", "-c", "trap '' TERM; sleep 30"]}]}
                    """)
            }
            let first = try harness.startNiced(arguments)
            try #require(await eventually { ids.allSatisfy { !harness.processGroups($0).isEmpty } }, "\(harness.listing())")
            let groups = ids.flatMap { harness.processGroups($0) }
            first.kill(SIGKILL)
            #expect(await first.exitStatus(limit: .seconds(10)) != nil)

            let notify = try NotifyLog()
            defer { notify.stop() }
            let began = ContinuousClock.now
            let restart = try harness.startNiced(["--exit-when-idle"] + arguments, notifySocket: notify.path)
            let ready = try #require(await notify.message("READY", limit: .seconds(30)))
            let took = began.duration(to: ready.at)
            print("recovery of 4 jobs with stubborn leftovers (grace 2 s): ready after \(took)")
            // One grace (2 s) with a margin; one grace per job would be 8 s.
            #expect(took < .seconds(5), "ready after \(took)")
            #expect(await restart.exitStatus(limit: .seconds(30)) == 0)
            for pgid in groups { #expect(liveMembers(ofGroup: pgid).isEmpty, "group \(pgid) left behind") }
            for id in ids { #expect(try harness.record(id).state == "interrupted") }
        }
    }
}
