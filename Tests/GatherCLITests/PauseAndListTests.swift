import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherctlEndToEnd {
    /// `gatherctl pause` / `resume` (SPEC §3, §10) and `gatherctl list`
    /// against the real gatherd and journald.
    @Suite("gatherctl against gatherd: pause, resume, list", .serialized, .timeLimit(.minutes(3)))
    struct PauseAndListTests {
        init() throws {
            if TestJournald.canRun { try TestJournald.ensureRunning() }
        }

        @Test func whilePausedFilesWaitAndTheRunningJobGoesOn() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("pause")
            // Paused before gatherd starts: it claims nothing from the start.
            #expect(try await harness.ctl(["pause"]).status == 0)
            #expect(FileManager.default.fileExists(atPath: harness.spool + "/paused"))
            let first = harness.id("first")
            #expect(try await harness.ctl(["submit", try harness.file("\(first).json", #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)]).status == 0)
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            try await Task.sleep(for: .milliseconds(800))
            #expect(FileManager.default.fileExists(atPath: "\(harness.spool)/incoming/\(first).json"), "claimed while paused")
            let status = try await harness.ctl(["status"])
            #expect(status.stdoutText.contains("paused"), "\(status.output)")

            // Resumed: the waiting file runs; then a running job goes on through a pause.
            #expect(try await harness.ctl(["resume"]).status == 0)
            #expect(await RunningCommand.waitUntil(limit: .seconds(20)) {
                FileManager.default.fileExists(atPath: "\(harness.spool)/done/\(first)/result.json")
            })
            let gate = harness.files + "/go"
            let running = harness.id("running")
            #expect(try await harness.ctl(["submit", try harness.file("\(running).json", """
                {"tasks": [{"name": "t", "command": ["sh", "-c", "while [ ! -e \(gate) ]; do sleep 0.05; done"]}]}
                """)]).status == 0)
            #expect(await RunningCommand.waitUntil(limit: .seconds(20)) {
                FileManager.default.fileExists(atPath: "\(harness.spool)/active/\(running)/state.json")
            })
            #expect(try await harness.ctl(["pause"]).status == 0)
            let waiting = harness.id("waiting")
            #expect(try await harness.ctl(["submit", try harness.file("\(waiting).json", #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)]).status == 0)
            #expect(FileManager.default.createFile(atPath: gate, contents: nil))
            #expect(await RunningCommand.waitUntil(limit: .seconds(20)) {
                FileManager.default.fileExists(atPath: "\(harness.spool)/done/\(running)/result.json")
            }, "the running job did not go on while paused")
            try await Task.sleep(for: .milliseconds(500))
            #expect(FileManager.default.fileExists(atPath: "\(harness.spool)/incoming/\(waiting).json"), "claimed while paused")
            #expect(try await harness.ctl(["resume"]).status == 0)
            #expect(await RunningCommand.waitUntil(limit: .seconds(20)) {
                FileManager.default.fileExists(atPath: "\(harness.spool)/done/\(waiting)/result.json")
            })
            // The journal says so, read back: paused twice, resumed twice.
            try await Task.sleep(for: .milliseconds(300))
            let entries = try TestJournald.readBack(match: ["MESSAGE_ID=576e3fe8c2fa41dbbe96de3044a4f7b4", "_PID=\(daemon.process.processIdentifier)"])
            let messages = entries.compactMap { $0["MESSAGE"] }
            #expect(messages.filter { $0.hasPrefix("claiming paused: ") }.count == 2, "\(messages)")
            #expect(messages.contains("claiming paused: 1 file waits in incoming/"), "\(messages)")
            #expect(messages.filter { $0 == "claiming resumed" }.count == 2, "\(messages)")
            #expect(entries.allSatisfy { $0["PRIORITY"] == "5" })
        }

        @Test func listFiltersByStateAgeAndUserNewestFirst() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("list")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let ok = harness.id("ok"), bad = harness.id("bad"), wrong = harness.id("wrong")
            _ = try await harness.ctl(["submit", "--wait", try harness.file("\(ok).json", #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)])
            _ = try await harness.ctl(["submit", "--wait", try harness.file("\(bad).json", #"{"tasks": [{"name": "t", "command": ["false"]}]}"#)])
            // Dropped by hand: submit would refuse the invalid file itself.
            let staged = "\(harness.spool)/incoming/.\(wrong).tmp"
            try Data(#"{"tasks": []}"#.utf8).write(to: URL(fileURLWithPath: staged))
            #expect(rename(staged, "\(harness.spool)/incoming/\(wrong).json") == 0)
            #expect(await RunningCommand.waitUntil(limit: .seconds(20)) {
                FileManager.default.fileExists(atPath: "\(harness.spool)/rejected/\(wrong)/result.json")
            })

            func ids(_ arguments: [String]) async throws -> [String] {
                let result = try await harness.ctl(["list", "--json"] + arguments)
                #expect(result.status == 0, "\(result.output)")
                let rows = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [[String: Any]])
                return rows.compactMap { $0["id"] as? String }
            }
            // Newest first.
            #expect(try await ids([]) == [wrong, bad, ok])
            #expect(try await ids(["--state", "failed", "--since", "1h"]) == [bad])
            #expect(try await ids(["--state", "succeeded"]) == [ok])
            #expect(try await ids(["--user", "root"]) == [wrong, bad, ok])
            #expect(try await ids(["--user", "nobody"]).isEmpty)
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await ids(["--since", "1ms"]).isEmpty)
            let text = try await harness.ctl(["list", "--state", "failed"])
            #expect(text.stdoutText.contains(bad) && text.stdoutText.contains("CompoundError, 1 error [t: exited with status 1]"), "\(text.output)")
            let usage = try await harness.ctl(["list", "--state", "nope"])
            #expect(usage.status == 2 && usage.stderrText.contains("--state nope: not one of"), "\(usage.output)")

            // failed/ holds cancelled jobs too: --state tells them apart by the record.
            let stopped = harness.id("stopped")
            #expect(try await harness.ctl(["submit", try harness.file("\(stopped).json", #"{"tasks": [{"name": "t", "command": ["sleep", "60"]}]}"#)]).status == 0)
            #expect(await RunningCommand.waitUntil(limit: .seconds(20)) {
                FileManager.default.fileExists(atPath: "\(harness.spool)/active/\(stopped)/state.json")
            })
            #expect(try await harness.ctl(["cancel", "--wait", stopped]).status == 3)
            #expect(FileManager.default.fileExists(atPath: "\(harness.spool)/failed/\(stopped)/result.json"))
            #expect(try await ids(["--state", "cancelled"]) == [stopped])
            #expect(try await ids(["--state", "failed"]) == [bad])
            #expect(try await ids(["--state", "interrupted"]).isEmpty)
        }
    }
}
