import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// `STATUS=` says claiming is paused (SPEC §3), from the start and after a resume.
    @Suite("gatherd end to end: STATUS= while paused", .timeLimit(.minutes(1)))
    struct PauseStatusEndToEndTests {
        @Test func statusBeginsWithPausedWhileThePausedFileExists() async throws {
            guard TestJournald.canRun else { return }
            try TestJournald.ensureRunning()
            let harness = try DaemonHarness("pause-status")
            #expect(FileManager.default.createFile(atPath: harness.spool + "/paused", contents: nil))
            let waiting = try harness.drop(harness.id("waits"), #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)
            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try harness.start(notifySocket: notify.path)
            defer { daemon.kill(SIGKILL) }
            #expect(await notify.message("READY") != nil)
            #expect(await eventually { notify.values("STATUS").last?.hasPrefix("paused") == true },
                    "\(notify.values("STATUS"))")
            #expect(harness.names(in: "incoming") == ["\(waiting).json"])

            #expect(unlink(harness.spool + "/paused") == 0)
            #expect(await eventually { harness.hasRecord(waiting) })
            #expect(await eventually { notify.values("STATUS").last.map { !$0.hasPrefix("paused") } == true },
                    "\(notify.values("STATUS"))")
        }
    }
}
