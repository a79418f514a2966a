import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension RobustnessEndToEnd {
    /// A job's own settings after a crash, and a `state.json` that cannot be
    /// written while the job runs (SPEC §3).
    @Suite("gatherd end to end: a job's grace in recovery, state.json write errors", .serialized, .timeLimit(.minutes(3)))
    struct SettingsAndProgressEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        /// Recovery stops a crashed run's leftover after the job's own
        /// `kill_grace` (1 s), not the daemon's `--kill-grace` (30 s).
        @Test func recoveryKillsALeftoverAfterTheJobsOwnGrace() async throws {
            guard TestJournald.canRun else { print("skipped: needs a journald (root)"); return }
            let harness = try DaemonHarness("jobgrace")
            let arguments = ["--kill-grace", "30s"]
            let id = try harness.drop(harness.id("stubborn"), """
                {"kill_grace": "1s", "tasks": [{"name": "t", "command": ["sh", "-c", "trap '' TERM; sleep 60"]}]}
                """)
            let first = try harness.startNiced(arguments)
            try #require(await eventually { !harness.processGroups(id).isEmpty }, "\(harness.listing())")
            let groups = harness.processGroups(id)
            first.kill(SIGKILL)
            #expect(await first.exitStatus(limit: .seconds(10)) != nil)
            for pgid in groups { #expect(!liveMembers(ofGroup: pgid).isEmpty, "group \(pgid) gone before the restart") }

            let notify = try NotifyLog()
            defer { notify.stop() }
            let began = ContinuousClock.now
            let restart = try harness.startNiced(["--exit-when-idle"] + arguments, notifySocket: notify.path)
            let ready = try #require(await notify.message("READY", limit: .seconds(40)))
            let took = began.duration(to: ready.at)
            print("recovery of a leftover that ignores SIGTERM (job kill_grace 1 s, daemon 30 s): ready after \(took)")
            // The job's grace (1 s) with a wide margin; the daemon's would be 30 s.
            #expect(took < .seconds(12), "ready after \(took)")
            for pgid in groups { #expect(liveMembers(ofGroup: pgid).isEmpty, "group \(pgid) left behind") }
            #expect(await restart.exitStatus(limit: .seconds(30)) == 0)
            #expect(try harness.record(id).state == "interrupted")
        }

        /// While `active/ID/state.log` cannot be written (immutable), the job's
        /// progress lines fail: claiming pauses (STATUS= and the journal say
        /// so, a dropped file waits in incoming/), and resumes, with the kept
        /// lines appended, once the file can be written again.
        @Test func aFailedStateWritePausesClaimingUntilItWorks() async throws {
            guard TestJournald.canRun else { print("skipped: needs a journald (root)"); return }
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chattr") else {
                print("skipped: needs /usr/bin/chattr (e2fsprogs)")
                return
            }
            let harness = try DaemonHarness("statewrite")
            let notify = try NotifyLog()
            defer { notify.stop() }
            let go = harness.spool + "-go"
            let second = harness.spool + "-second"
            defer { unlink(go); unlink(second) }
            // "first" ends when told; its end (and "then" starting) appends to state.log.
            let id = try harness.drop(harness.id("job"), """
                {"tasks": [
                  {"name": "first", "command": ["sh", "-c", "while [ ! -e \(go) ] && kill -0 $PPID 2>/dev/null; do sleep 0.05; done"]},
                  {"name": "then", "command": ["sh", "-c", "while [ ! -e \(second) ] && kill -0 $PPID 2>/dev/null; do sleep 0.05; done"], "after": ["first"]}
                ]}
                """)
            let daemon = try harness.startNiced([], notifySocket: notify.path)
            try #require(await notify.message("READY") != nil)
            try #require(await eventually { !harness.processGroups(id).isEmpty }, "\(harness.listing())")

            let log = "\(harness.spool)/active/\(id)/state.log"
            #expect(chattr("+i", log) == 0)
            var locked = true
            defer { if locked { _ = chattr("-i", log) } }
            try Data().write(to: URL(fileURLWithPath: go))

            let paused = await notify.message("STATUS") { $0.hasPrefix("spool write error: ") }
            #expect(paused?.value("STATUS")?.contains("append active/\(id)/state.log: Operation not permitted") == true, "\(String(describing: paused))")
            #expect(paused?.value("STATUS")?.hasSuffix("; claiming paused") == true)
            var entries: [ReadBackEntry] = []
            for _ in 0..<50 where entries.isEmpty {
                entries = try await daemonEntries(pid: daemon.pid, messageID: MessageID.spoolWriteError)
                if entries.isEmpty { await pause(.milliseconds(100)) }
            }
            #expect(entries.count == 1)
            #expect(entries.first?["MESSAGE"]?.hasPrefix("cannot write to the spool: ") == true)

            // Claiming is paused: a file dropped now waits in incoming/.
            let waiting = try harness.drop(harness.id("waiting"), #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)
            await pause(.milliseconds(1500))
            #expect(FileManager.default.fileExists(atPath: "\(harness.spool)/incoming/\(waiting).json"))

            #expect(chattr("-i", log) == 0)
            locked = false
            try Data().write(to: URL(fileURLWithPath: second))
            // Retried within the 10 s cycle: both jobs end in done/.
            #expect(await eventually(limit: .seconds(30)) {
                harness.area(of: id) == "done" && harness.area(of: waiting) == "done"
            }, "\(harness.listing())")
            #expect(await notify.message("STATUS", limit: .seconds(5)) { $0.hasSuffix("2 done, 0 failed, 0 rejected") } != nil)
            daemon.kill(SIGTERM)
            #expect(await daemon.exitStatus(limit: .seconds(10)) == 0)
        }

        private func chattr(_ flag: String, _ path: String) -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
            process.arguments = [flag, path]
            guard (try? process.run()) != nil else { return -1 }
            process.waitUntilExit()
            return process.terminationStatus
        }
    }
}
