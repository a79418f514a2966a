import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherctlEndToEnd {
    /// `submit --wait` and `cancel [--wait]` against the real gatherd: the
    /// outcome lines, the compound error, and the exit codes of SPEC §10.
    @Suite("gatherctl against gatherd: wait and cancel", .serialized, .timeLimit(.minutes(3)))
    struct WaitAndCancelTests {
        init() throws {
            if TestJournald.canRun { try TestJournald.ensureRunning() }
        }

        static func sleeper(_ seconds: Int = 60) -> String {
            #"{"tasks": [{"name": "nap", "command": ["sleep", "\#(seconds)"]}, {"name": "ok", "command": ["true"]}]}"#
        }

        @Test func aFailingJobPrintsTheCompoundErrorAndExits1() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("wait-fail")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let id = harness.id("failing")
            let path = try harness.file("\(id).json", """
                {"policy": "collect-all", "tasks": [
                  {"name": "a", "command": ["sh", "-c", "exit 3"]},
                  {"name": "b", "command": ["true"]},
                  {"name": "c", "command": ["sh", "-c", "kill -KILL $$"]}
                ]}
                """)
            let result = try await harness.ctl(["submit", "--wait", path])
            #expect(result.status == 1, "\(result.output)")
            #expect(result.stdoutText == """
                \(id)
                \(id): failed: CompoundError, 2 errors [a: exited with status 3; c: killed by signal SIGKILL]

                """, "\(result.output)")
            // What it printed is what the daemon recorded.
            #expect(try harness.record(id)["error"] as? String == "CompoundError, 2 errors [a: exited with status 3; c: killed by signal SIGKILL]")
        }

        @Test func aSucceedingJobExits0() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("wait-ok")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let id = harness.id("fine")
            let path = try harness.file("\(id).json", #"{"tasks": [{"name": "a", "command": ["true"]}, {"name": "b", "command": ["sh", "-c", "sleep 0.2"]}]}"#)
            let result = try await harness.ctl(["submit", "--wait", path])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.stdoutText == "\(id)\n\(id): succeeded\n")
            #expect(harness.area(of: id) == "done")
        }

        @Test func severalJobsExitWithTheHighestByPrecedence() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("wait-many")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let ok = try harness.file("\(harness.id("ok")).json", #"{"tasks": [{"name": "a", "command": ["true"]}]}"#)
            let bad = try harness.file("\(harness.id("bad")).json", #"{"tasks": [{"name": "a", "command": ["false"]}]}"#)
            let result = try await harness.ctl(["submit", "--wait", "--json", ok, bad])
            #expect(result.status == 1, "\(result.output)")
            // --json prints the records as they are, in the order submitted.
            let records = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [[String: Any]])
            #expect(records.map { $0["state"] as? String } == ["succeeded", "failed"])
            #expect(records.map { $0["id"] as? String } == [harness.id("ok"), harness.id("bad")])
        }

        @Test func aJobTheDaemonRejectsExits1WithTheReason() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("wait-rejected")
            let daemon = try await harness.startDaemon(["--max-queued-per-user", "1"])
            defer { daemon.stop() }
            let first = harness.id("first")
            #expect(try await harness.ctl(["submit", try harness.file("\(first).json", Self.sleeper())]).status == 0)
            _ = try #require(try await runningPID(harness, first, task: "nap"))
            // Valid for gatherctl, but one more than this user may have queued.
            let second = harness.id("second")
            let result = try await harness.ctl(["submit", "--wait", try harness.file("\(second).json", Self.sleeper(1))])
            #expect(result.status == 1, "\(result.output)")
            #expect(result.stdoutText.hasPrefix("\(second)\n\(second): rejected: queue full: "), "\(result.output)")
            #expect(harness.area(of: second) == "rejected")
            #expect(try await harness.ctl(["cancel", first]).status == 0)
        }

        @Test func cancelWaitExits3AndTheTasksAreGone() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("cancel-wait")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let id = harness.id("sleeper")
            let submitted = try await harness.ctl(["submit", try harness.file("\(id).json", Self.sleeper())])
            #expect(submitted.status == 0, "\(submitted.output)")
            let pid = try #require(try await runningPID(harness, id, task: "nap"))
            let result = try await harness.ctl(["cancel", "--wait", id])
            #expect(result.status == 3, "\(result.output)")
            #expect(result.stdoutText == "cancel requested: \(id)\n\(id): cancelled\n")
            let record = try harness.record(id)
            #expect(record["state"] as? String == "cancelled")
            let nap = (record["tasks"] as? [[String: Any]])?.first { $0["name"] as? String == "nap" }
            #expect(nap?["outcome"] as? String == "cancelled")
            #expect(nap?["reason"] as? String == "cancelled by request")
            #expect(await RunningCommand.waitUntil(limit: .seconds(10)) { kill(pid, 0) != 0 }, "pid \(pid) still there")
            #expect(!harness.names("cancel").contains(id))  // the daemon took the request
            // Nothing left to cancel: exit 1, no new request.
            let again = try await harness.ctl(["cancel", id])
            #expect(again.status == 1)
            #expect(again.stderrText.contains("already finished: cancelled"), "\(again.output)")
            #expect(harness.names("cancel").isEmpty)
        }

        @Test func submitWaitSeesACancelFromElsewhereAndExits3() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("wait-cancelled")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let id = harness.id("sleeper")
            let waiting = try harness.startCtl(["submit", "--wait", try harness.file("\(id).json", Self.sleeper())])
            _ = try #require(try await runningPID(harness, id, task: "nap"))
            #expect(waiting.process.isRunning)
            let cancel = try await harness.ctl(["cancel", id])
            #expect(cancel.status == 0, "\(cancel.output)")
            #expect(await waiting.wait() == 3, "\(waiting.stdout)\(waiting.stderr)")
            #expect(waiting.stdout == "\(id)\n\(id): cancelled\n")
        }

        @Test func cancellingAnUnknownJobExits1() async throws {
            let harness = try CtlHarness("cancel-unknown")
            let result = try await harness.ctl(["cancel", harness.id("nothing")])
            #expect(result.status == 1)
            #expect(result.stderrText.contains("no job \(harness.id("nothing")) waiting or running"), "\(result.output)")
            #expect(harness.names("cancel").isEmpty)
        }

        @Test func aRequestForAJobStillInIncomingIsWrittenAtomically() async throws {
            let harness = try CtlHarness("cancel-queued")
            let id = harness.id("queued")
            #expect(try await harness.ctl(["submit", try harness.file("\(id).json", Self.sleeper())]).status == 0)
            let result = try await harness.ctl(["cancel", id])
            #expect(result.status == 0, "\(result.output)")
            #expect(harness.names("cancel") == [id])  // no dotfile left behind
            var info = stat()
            #expect(stat("\(harness.spool)/cancel/\(id)", &info) == 0)
            #expect(info.st_size == 0 && info.st_mode & S_IFMT == S_IFREG)
            // The daemon, started now, claims the job and honours the request before it starts.
            guard TestJournald.canRun else { return }
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            #expect(await RunningCommand.waitUntil(limit: .seconds(20)) { harness.area(of: id) == "failed" }, "\(harness.names("active"))")
            #expect(try harness.record(id)["state"] as? String == "cancelled")
        }

        /// Waits until the job's state shows `task` running and returns its PID.
        private func runningPID(_ harness: CtlHarness, _ id: String, task: String) async throws -> pid_t? {
            var pid: pid_t?
            _ = await RunningCommand.waitUntil(limit: .seconds(20)) {
                guard let state = currentState(spool: harness.spool, id: id),
                      let tasks = state["tasks"] as? [[String: Any]],
                      let entry = tasks.first(where: { $0["name"] as? String == task }),
                      let value = entry["pid"] as? Int else { return false }
                pid = pid_t(value)
                return true
            }
            return pid
        }

        @Test func onATerminalWaitShowsALiveProgressLine() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("wait-tty")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let id = harness.id("slow")
            let path = try harness.file("\(id).json", #"{"tasks": [{"name": "a", "command": ["sleep", "2"]}, {"name": "b", "command": ["true"]}]}"#)
            // script(1) gives gatherctl a pseudo-terminal as stdout.
            let command = "\(CtlHarness.gatherctl) --spool \(harness.spool) submit --wait \(path)"
            let result = try await CtlHarness.run(["script", "-qec", command, "/dev/null"])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.stdoutText.contains("\r\u{1B}[Kwaiting for 1 job: \(id) running 1/2 done"), "\(result.stdoutText.debugDescription)")
            // The progress line is erased before the outcome is printed.
            #expect(result.stdoutText.hasSuffix("\r\u{1B}[K\(id): succeeded\r\n"), "\(result.stdoutText.debugDescription)")
            // Not on a terminal: no progress line at all.
            let plain = try await harness.ctl(["submit", "--wait", try harness.file("\(id)-2.json", #"{"tasks": [{"name": "a", "command": ["sleep", "0.3"]}]}"#)])
            #expect(!plain.stdoutText.contains("waiting for"))
        }
    }
}
