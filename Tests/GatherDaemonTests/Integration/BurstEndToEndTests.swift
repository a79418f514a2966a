import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension RobustnessEndToEnd {
    /// A burst of job files renamed into a running daemon's `incoming/` as fast
    /// as the test can: every one is claimed, run and recorded; none is lost.
    @Suite("gatherd end to end: a burst of 1,000 files", .serialized, .timeLimit(.minutes(3)))
    struct BurstEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func thousandFilesDroppedAtOnceAllEndWithRecords() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("burst")
            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try harness.startNiced(notifySocket: notify.path)
            try #require(await notify.message("READY") != nil)

            // Written first as dotfiles (ignored), so the burst itself is only renames.
            let count = 1000
            let ids = (0..<count).map { harness.id(String(format: "j%04d", $0)) }
            let job = Data(#"{"tasks": [{"name": "t", "command": ["true"]}]}"#.utf8)
            try await offPool { for id in ids { try job.write(to: URL(fileURLWithPath: "\(harness.spool)/incoming/.\(id).tmp")) } }
            let clock = ContinuousClock()
            let began = clock.now
            for id in ids {
                try #require(rename("\(harness.spool)/incoming/.\(id).tmp", harness.incoming(id)) == 0)
            }
            let renamed = began.duration(to: clock.now)
            let allDone = await eventually(limit: .seconds(120)) {
                harness.names(in: "done").count + harness.names(in: "failed").count + harness.names(in: "rejected").count >= count
            }
            let elapsed = began.duration(to: clock.now)
            #expect(allDone, "\(harness.names(in: "done").count) of \(count) done")
            print(String(format: "burst: %d files renamed in %.3f s, all recorded after %.2f s (%.0f jobs/s)",
                         count, seconds(renamed), seconds(elapsed), Double(count) / max(0.001, seconds(elapsed))))

            daemon.kill(SIGTERM)
            #expect(await daemon.exitStatus(limit: .seconds(20)) == 0)
            let finished = harness.finishedJobs()
            #expect(finished.count == count)
            #expect(ids.allSatisfy { finished[$0] == ["done"] })
            #expect(harness.names(in: "incoming").isEmpty)
            #expect(harness.names(in: "active").isEmpty)
            // Each record says succeeded, and each job's end was logged once.
            let states = try await offPool { try ids.map { try harness.record($0).state } }
            #expect(states.allSatisfy { $0 == "succeeded" })
            let succeeded = try await daemonEntries(pid: daemon.pid, messageID: "3a64dfccb9fd44149e8806b583dd28d4")
            #expect(succeeded.count == count)
            #expect(Set(succeeded.compactMap { $0["GATHER_JOB"] }) == Set(ids))
            // STATUS= kept count of them.
            #expect(notify.values("STATUS").contains { $0.contains("\(count) done") })
        }
    }
}

/// A duration in seconds, for figures.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
