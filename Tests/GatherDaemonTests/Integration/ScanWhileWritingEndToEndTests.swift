import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// SPEC §3: a file written in place is picked up when it is closed. A full
    /// scan (start, SIGHUP, queue overflow) must not take it while some process
    /// still has it open for writing, or it would be rejected half-written.
    @Suite("gatherd end to end: a scan and a file still being written", .serialized, .timeLimit(.minutes(2)))
    struct ScanWhileWritingEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test("SIGHUP storms while a file is half written: it runs once, whole, after its close")
        func halfWrittenFileWaitsForItsClose() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("scan-writing")
            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try harness.start(notifySocket: notify.path)
            #expect(await notify.message("READY") != nil)

            let id = harness.id("slow")
            let path = harness.spool + "/incoming/\(id).json"
            let writer = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            try #require(writer >= 0)
            let half = #"{"tasks": [{"name": "t", "#
            _ = half.withCString { write(writer, $0, strlen($0)) }
            // Twenty full scans while the writer holds it open.
            for _ in 0..<20 {
                daemon.kill(SIGHUP)
                await pause(.milliseconds(25))
            }
            await pause(.milliseconds(200))
            #expect(harness.area(of: id) == nil, "claimed half-written: \(harness.listing())")
            #expect(FileManager.default.fileExists(atPath: path))
            let rest = #""command": ["true"]}]}"#
            _ = rest.withCString { write(writer, $0, strlen($0)) }
            close(writer)
            #expect(await eventually(limit: .seconds(20)) { harness.hasRecord(id) }, "\(harness.listing())")
            let record = try harness.record(id)
            #expect(record.state == "succeeded", "\(record.error ?? "")")
            #expect(harness.names(in: "rejected").isEmpty)
            daemon.kill(SIGTERM)
            #expect(await daemon.exitStatus(limit: .seconds(20)) == 0)
        }
    }
}
