import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension RobustnessEndToEnd {
    /// SIGHUP makes gatherd rescan `incoming/` (SPEC §3, §9): a file that
    /// arrived without any event the watcher acts on is claimed only then.
    @Suite("gatherd end to end: SIGHUP rescans", .serialized, .timeLimit(.minutes(2)))
    struct RescanEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func aFileInotifyDidNotReportIsClaimedAfterSighup() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("hup")
            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try harness.start(notifySocket: notify.path)
            try #require(await notify.message("READY") != nil)

            let id = harness.id("quiet")
            try linkUnnamedFile(#"{"tasks": [{"name": "t", "command": ["true"]}]}"#, into: harness.incoming(id), from: harness.spool)
            // IN_CREATE of a regular file with one link means "being written"; its
            // close is reported for the directory it was opened in, not incoming/.
            await pause(.milliseconds(1000))
            #expect(harness.names(in: "incoming") == ["\(id).json"], "claimed without SIGHUP: the test proves nothing")
            #expect(harness.area(of: id) == nil)

            daemon.kill(SIGHUP)
            #expect(await eventually(limit: .seconds(10)) { harness.hasRecord(id) }, "\(harness.listing())")
            #expect(try harness.record(id).state == "succeeded")
            // SIGHUP does not stop it.
            #expect(daemon.process.isRunning)
            daemon.kill(SIGTERM)
            #expect(await daemon.exitStatus(limit: .seconds(10)) == 0)
        }

        /// Rescans racing the watcher: every file is seen twice or more (event and
        /// scan), yet claimed once, so each has exactly one record and none a `-2` twin.
        @Test func sighupStormDuringABurstClaimsEachFileOnce() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("hupstorm")
            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try harness.startNiced(notifySocket: notify.path)
            try #require(await notify.message("READY") != nil)
            let ids = (0..<400).map { harness.id("j\($0)") }
            let job = Data(#"{"tasks": [{"name": "t", "command": ["true"]}]}"#.utf8)
            try await offPool { for id in ids { try job.write(to: URL(fileURLWithPath: "\(harness.spool)/incoming/.\(id).tmp")) } }
            for (n, id) in ids.enumerated() {
                try #require(rename("\(harness.spool)/incoming/.\(id).tmp", harness.incoming(id)) == 0)
                if n % 8 == 0 { daemon.kill(SIGHUP) }
            }
            let allDone = await eventually(limit: .seconds(90)) { harness.finishedJobs().count >= ids.count }
            #expect(allDone, "\(harness.finishedJobs().count) of \(ids.count)")
            daemon.kill(SIGTERM)
            #expect(await daemon.exitStatus(limit: .seconds(20)) == 0)
            let finished = harness.finishedJobs()
            #expect(Set(finished.keys) == Set(ids), "extra: \(Set(finished.keys).subtracting(ids).sorted().prefix(5))")
            #expect(ids.allSatisfy { finished[$0] == ["done"] })
        }

        /// Writes `text` to an unnamed file (`O_TMPFILE`) in `directory`, then
        /// gives it the name `path` with `linkat` while it is still open, so the
        /// only event in `path`'s directory is an `IN_CREATE` of a regular file
        /// with one link.
        private func linkUnnamedFile(_ text: String, into path: String, from directory: String) throws {
            // O_TMPFILE (__O_TMPFILE | O_DIRECTORY) is not exported by Swift's Glibc.
            let oTmpfile: Int32 = 0o20_000_000 | O_DIRECTORY
            let fd = open(directory, oTmpfile | O_WRONLY | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FixtureError(what: "open O_TMPFILE in \(directory)", output: String(cString: strerror(errno))) }
            defer { close(fd) }
            let bytes = Array(text.utf8)
            guard write(fd, bytes, bytes.count) == bytes.count, fchmod(fd, 0o644) == 0 else {
                throw FixtureError(what: "write O_TMPFILE", output: String(cString: strerror(errno)))
            }
            guard linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 else {
                throw FixtureError(what: "linkat \(path)", output: String(cString: strerror(errno)))
            }
        }
    }
}
