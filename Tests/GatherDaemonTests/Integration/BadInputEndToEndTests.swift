import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension RobustnessEndToEnd {
    /// Every kind of bad input a user can drop, dropped into a running daemon at
    /// once: each ends in `rejected/ID/` with an error that names the problem and
    /// exactly one "job rejected" entry, and the daemon then still runs a good job.
    @Suite("gatherd end to end: bad input", .serialized, .timeLimit(.minutes(3)))
    struct BadInputEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func everyKindOfBadInputIsRejectedAndTheDaemonGoesOn() async throws {
            guard TestJournald.canRun else { return }
            // The owner cases need these accounts as the test expects them.
            try #require(getpwuid(4_242_424) == nil, "uid 4242424 must have no passwd entry")
            try #require(getpwnam("nobody")?.pointee.pw_uid == 65534, "the test needs the user nobody (65534)")

            let harness = try DaemonHarness("bad")
            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try harness.start(notifySocket: notify.path)
            // Dropped after the first scan, so the watcher (IN_CREATE, IN_MOVED_TO) sees each.
            #expect(await notify.message("READY") != nil)

            let inputs = BadInput.content + BadInput.files
            #expect(inputs.count >= 30)
            var dropped: [(input: BadInput, id: String)] = []
            for input in inputs {
                dropped.append((input, try input.drop(harness, harness.id(input.kind))))
            }
            let allRecorded = await eventually(limit: .seconds(60)) {
                dropped.allSatisfy { harness.area(of: $0.id) == "rejected" && harness.hasRecord($0.id) }
            }
            #expect(allRecorded, "not all rejected: \(harness.listing())")

            // A FIFO or a huge file must not have stalled it: a good job still runs.
            let good = try harness.drop(harness.id("good"), #"{"tasks": [{"name": "ok", "command": ["true"]}]}"#)
            #expect(await eventually(limit: .seconds(30)) { harness.hasRecord(good) })
            #expect(try harness.record(good).state == "succeeded")
            // A name already used gets "-2".
            let again = try BadInput.content[0].drop(harness, dropped[0].id)
            #expect(await eventually(limit: .seconds(30)) { harness.hasRecord(again + "-2") })

            daemon.kill(SIGTERM)
            #expect(await daemon.exitStatus(limit: .seconds(20)) == 0)
            #expect(harness.names(in: "incoming").isEmpty)
            #expect(harness.names(in: "active").isEmpty)

            let entries = try await daemonEntries(pid: daemon.pid, messageID: MessageID.jobRejected)
            for (input, id) in dropped {
                let record = try harness.record(id)
                let error = record.error ?? ""
                #expect(record.area == "rejected", "\(input.kind)")
                #expect(record.state == "rejected", "\(input.kind)")
                for part in input.expected {
                    #expect(error.contains(part), "\(input.kind): \(error)")
                }
                let mine = entries.filter { $0["GATHER_JOB"] == id }
                #expect(mine.count == 1, "\(input.kind): \(mine.count) rejected entries")
                if let entry = mine.first {
                    #expect(entry["PRIORITY"] == "3")
                    #expect(entry["MESSAGE"]?.contains("rejected: ") == true)
                    #expect(input.expected.allSatisfy { entry["MESSAGE"]?.contains($0) == true }, "\(input.kind): \(entry["MESSAGE"] ?? "")")
                }
            }
            // SPEC §3: what was not a regular file with one link leaves only its record.
            for (input, id) in dropped where ["symlink", "fifo", "directory", "hard-link", "socket"].contains(input.kind) {
                let kept = (try? FileManager.default.contentsOfDirectory(atPath: "\(harness.spool)/rejected/\(id)")) ?? []
                #expect(kept == ["result.json"], "\(input.kind): rejected/\(id) holds \(kept)")
            }
            // Nothing behind a link was followed or removed.
            #expect(FileManager.default.fileExists(atPath: "/etc/passwd"))
            #expect(FileManager.default.fileExists(atPath: harness.spool + "/outside-\(harness.id("symlink")).json"))
        }
    }
}

extension DaemonHarness {
    /// Whether job `id` has a `result.json` in `done/`, `failed/` or `rejected/`.
    func hasRecord(_ id: String) -> Bool {
        ["done", "failed", "rejected"].contains { FileManager.default.fileExists(atPath: "\(spool)/\($0)/\(id)/result.json") }
    }
}
