import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension RobustnessEndToEnd {
    /// `--retain` against hostile drops (SPEC §3, §8): a directory named
    /// `x.json` full of links is deleted without following any of them, and a
    /// tree too deep to delete does not keep the other expired jobs in place.
    @Suite("gatherd end to end: retention of hostile drops", .serialized, .timeLimit(.minutes(1)))
    struct RetentionEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func expiredJobsAreDeletedWithoutFollowingLinks() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("retain")
            // What the links point at: it must all survive.
            let outside = harness.spool + "-outside"
            try FileManager.default.createDirectory(atPath: outside + "/inner", withIntermediateDirectories: true)
            try Data("keep".utf8).write(to: URL(fileURLWithPath: outside + "/inner/file"))
            defer { try? FileManager.default.removeItem(atPath: outside) }

            let links = harness.id("links")
            let linksDir = harness.incoming(links)
            try FileManager.default.createDirectory(atPath: linksDir + "/sub", withIntermediateDirectories: true)
            symlink(outside, linksDir + "/to-dir")
            symlink(outside + "/inner/file", linksDir + "/to-file")
            symlink(outside + "/inner", linksDir + "/sub/to-inner")
            // Deeper than retention goes (64 levels).
            let deep = harness.id("deep")
            var path = harness.incoming(deep)
            for _ in 0..<80 {
                try #require(mkdir(path, 0o755) == 0)
                path += "/d"
            }
            var others = [harness.id("good")]
            try harness.drop(others[0], #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)
            for n in 0..<10 {
                others.append(try harness.drop(harness.id("bad\(n)"), "{"))
            }
            let all = [links, deep] + others

            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try harness.start(["--retain", "1s"], notifySocket: notify.path)
            try #require(await notify.message("READY") != nil)
            try #require(await eventually { all.allSatisfy(harness.hasRecord) }, "\(harness.listing())")
            #expect(harness.area(of: links) == "rejected" && harness.area(of: deep) == "rejected")
            // Retention runs on the first maintenance tick, 10 s after the start.
            let expired = await eventually(limit: .seconds(25)) {
                ([links] + others).allSatisfy { harness.area(of: $0) == nil }
            }
            #expect(expired, "still there: \(harness.listing())")
            daemon.kill(SIGTERM)
            #expect(await daemon.exitStatus(limit: .seconds(10)) == 0)
            #expect((try? String(contentsOfFile: outside + "/inner/file", encoding: .utf8)) == "keep")
            #expect(FileManager.default.fileExists(atPath: outside + "/inner"))
        }
    }
}
