import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// The real daemon and `cancel/` (SPEC §3, §8, §9): who may cancel a running
    /// job, what a refused request leaves behind, and a request that arrives
    /// before its job is claimed.
    @Suite("gatherd end to end: cancel requests", .serialized, .timeLimit(.minutes(3)))
    struct CancelEndToEndTests {
        static let cancelledID = "2169a4fd057e41759754083de8891473"
        static let refusedID = "c0404cf9a05349919b3fb42e7236d2ff"

        init() throws {
            try TestJournald.ensureRunning()
        }

        /// Two tasks that write their pid to `scratch/TASK.pid` and wait until
        /// `scratch/go` exists, so the test decides when they end.
        private func gatedJob(_ scratch: String) -> String {
            func task(_ name: String) -> String {
                let script = "echo $$ > \(scratch)/\(name).pid; while [ ! -e \(scratch)/go ]; do sleep 0.05; done"
                return #"{"name": "\#(name)", "command": ["sh", "-c", \#(jsonString(script))]}"#
            }
            return #"{"kill_grace": "1s", "tasks": [\#(task("one")), \#(task("two"))]}"#
        }

        private func waitForTasks(_ harness: DaemonHarness, _ scratch: String) async throws -> [pid_t] {
            var pids: [pid_t] = []
            for name in ["one", "two"] {
                let pid = await harness.waitForPID(in: "\(scratch)/\(name).pid")
                pids.append(try #require(pid, "task \(name) did not start: \(harness.listing())"))
            }
            return pids
        }

        @Test(arguments: [DaemonHarness.nobody, 0])
        func aRunningJobIsCancelledByItsSubmitterOrRoot(requester: uid_t) async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("cancel-by-\(requester)")
            let scratch = try harness.scratch()
            let id = try harness.drop(harness.id("job"), gatedJob(scratch), owner: DaemonHarness.nobody)
            let daemon = try harness.start(["--exit-when-idle"])
            let pids = try await waitForTasks(harness, scratch)
            try harness.cancel(id, owner: requester)
            // The job ends without `go`: only the cancel can have ended it.
            #expect(await daemon.wait(limit: .seconds(20)) == 0, "gatherd still runs: \(harness.listing())")
            for pid in pids { #expect(processIsGone(pid), "task process \(pid) still runs") }
            #expect(!harness.cancelRequestExists(id))

            let record = try harness.record(id)
            #expect(record.area == "failed")
            #expect(record.state == "cancelled")
            #expect(record.object["error"] is NSNull)
            for name in ["one", "two"] {
                #expect(record.outcome(name) == "cancelled", "\(name)")
                #expect(record.reason(name) == "cancelled by request", "\(name)")
            }
            let entries = try harness.journal(id)
            let cancelled = try #require(entries.first { $0["MESSAGE_ID"] == Self.cancelledID })
            #expect(cancelled["MESSAGE"] == "job \(id) cancelled by request")
            #expect(cancelled["PRIORITY"] == "5")
            #expect(cancelled["GATHER_STATE"] == "cancelled")
            #expect(cancelled["GATHER_UID"] == "65534")
            #expect(!entries.contains { $0["MESSAGE_ID"] == Self.refusedID })
            // Cancelled is not failed: no compound error.
            #expect(!entries.contains { $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66" })
        }

        /// (job owner, request owner): another user's request, even for a job of `nobody`.
        @Test(arguments: [(uid_t(0), DaemonHarness.nobody), (DaemonHarness.nobody, uid_t(4242))])
        func anotherUsersRequestIsRefusedAndTheJobRunsOn(jobOwner: uid_t, requester: uid_t) async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("refuse-\(requester)")
            let scratch = try harness.scratch()
            let id = try harness.drop(harness.id("job"), gatedJob(scratch), owner: jobOwner)
            let daemon = try harness.start(["--exit-when-idle"])
            let pids = try await waitForTasks(harness, scratch)
            try harness.cancel(id, owner: requester)

            let refused = try #require(try await harness.waitForEntry(of: id) { $0["MESSAGE_ID"] == Self.refusedID })
            #expect(refused["MESSAGE"] == "cancel request for \(id) refused: owned by uid \(requester), job by uid \(jobOwner)")
            #expect(refused["PRIORITY"] == "4")
            #expect(!harness.cancelRequestExists(id), "a refused request is removed")
            // The job runs on: still active, its processes alive, until the test lets them end.
            #expect(harness.area(of: id) == "active")
            for pid in pids { #expect(!processIsGone(pid), "task process \(pid) was stopped") }
            try #require(FileManager.default.createFile(atPath: scratch + "/go", contents: nil))
            #expect(await daemon.wait(limit: .seconds(20)) == 0)

            let record = try harness.record(id)
            #expect(record.state == "succeeded")
            #expect(record.outcome("one") == "succeeded" && record.outcome("two") == "succeeded")
            #expect(!(try harness.journal(id)).contains { $0["MESSAGE_ID"] == Self.cancelledID })
        }

        @Test func aRequestThatIsNoRegularFileOrNamesNoJobIsRefused() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("refuse-odd")
            let scratch = try harness.scratch()
            let id = try harness.drop(harness.id("job"), gatedJob(scratch))
            let daemon = try harness.start(["--exit-when-idle"])
            _ = try await waitForTasks(harness, scratch)
            let cancel = harness.spool + "/cancel/"
            // A symlink (never followed: its target stays), then a directory.
            let target = scratch + "/target"
            try #require(FileManager.default.createFile(atPath: target, contents: Data("keep".utf8)))
            try #require(symlink(target, cancel + id) == 0)
            let first = try await harness.waitForEntry(of: id) { $0["MESSAGE_ID"] == Self.refusedID }
            #expect(first?["MESSAGE"] == "cancel request for \(id) refused: not a regular file")
            // A directory holding a link to the target, built aside and renamed in:
            // removed whole, the link never followed.
            try #require(mkdir(scratch + "/request", 0o755) == 0)
            try #require(symlink(target, scratch + "/request/link") == 0)
            try #require(rename(scratch + "/request", cancel + id) == 0)
            let refusals = await RunningDaemon.waitUntil {
                ((try? harness.journal(id)) ?? []).count { $0["MESSAGE_ID"] == Self.refusedID } == 2
            }
            #expect(refusals, "no second refusal for a directory")
            let ghost = harness.id("ghost")
            try harness.cancel(ghost)
            let unknown = try await harness.waitForEntry(of: ghost) { $0["MESSAGE_ID"] == Self.refusedID }
            #expect(unknown?["MESSAGE"] == "cancel request for \(ghost) refused: no such job waiting or running")
            // No job: no run, name or submitter made up for it.
            #expect(unknown?["GATHER_UID"] == nil && unknown?["GATHER_RUN"] == nil && unknown?["GATHER_JOB_NAME"] == nil)

            #expect(await RunningDaemon.waitUntil { !harness.cancelRequestExists(id) && !harness.cancelRequestExists(ghost) })
            #expect((try? String(contentsOfFile: target, encoding: .utf8)) == "keep")
            #expect(harness.area(of: id) == "active")
            try #require(FileManager.default.createFile(atPath: scratch + "/go", contents: nil))
            #expect(await daemon.wait(limit: .seconds(20)) == 0)
            #expect(try harness.record(id).state == "succeeded")
        }

        @Test func aRequestForAJobStillBeingWrittenIsKeptUntilTheClaim() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("cancel-early")
            let marker = harness.spool + "/ran"
            let id = harness.id("job")
            // Not --exit-when-idle: with nothing in incoming/ it would exit at once.
            let daemon = try harness.start()
            #expect(try await harness.waitUntilReady(daemon))
            // Written in place and still open: the daemon must not claim it yet.
            let file = try harness.openInPlace(id, #"{"tasks": [{"name": "t", "command": ["touch", "\#(marker)"]}]}"#)
            try harness.cancel(id)
            try await Task.sleep(for: .seconds(1))
            #expect(harness.cancelRequestExists(id), "the request was not kept")
            #expect(harness.area(of: id) == nil)
            #expect(!(try harness.journal(id)).contains { $0["MESSAGE_ID"] == Self.refusedID })

            file.close()
            #expect(await harness.waitForRecord(id))
            daemon.kill(SIGTERM)
            #expect(await daemon.wait(limit: .seconds(20)) == 0)
            try expectCancelledBeforeStart(harness, id, marker: marker)
        }

        @Test func aRequestDroppedBeforeTheDaemonStartsIsHonouredAtTheClaim() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("cancel-first")
            let marker = harness.spool + "/ran"
            let id = harness.id("job")
            try harness.cancel(id)
            try harness.drop(id, #"{"tasks": [{"name": "t", "command": ["touch", "\#(marker)"]}]}"#)
            try await harness.runUntilIdle()
            try expectCancelledBeforeStart(harness, id, marker: marker)
        }

        private func expectCancelledBeforeStart(_ harness: DaemonHarness, _ id: String, marker: String) throws {
            let record = try harness.record(id)
            #expect(record.area == "failed")
            #expect(record.state == "cancelled")
            #expect(record.outcome("t") == "skipped")
            #expect(record.reason("t") == "cancelled by request")
            #expect(!FileManager.default.fileExists(atPath: marker), "the cancelled job ran")
            #expect(!harness.cancelRequestExists(id))
            let cancelled = try harness.journal(id).first { $0["MESSAGE_ID"] == Self.cancelledID }
            #expect(cancelled?["MESSAGE"] == "job \(id) cancelled by request")
        }
    }
}
