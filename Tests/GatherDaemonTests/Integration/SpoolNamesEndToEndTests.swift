import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// The real daemon and SPEC §3's names: IDs already used get `-2`, `-3`…;
    /// bad file names are rejected under a sanitised ID; dotfiles and names not
    /// ending in `.json` are left alone in `incoming/`.
    @Suite("gatherd end to end: spool names", .serialized, .timeLimit(.minutes(3)))
    struct SpoolNamesEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func theSameFileNameDroppedAgainGetsTheNextFreeID() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("collide")
            let id = harness.id("again")
            // The first run fails, so its ID is taken in failed/, the next ones in done/.
            try harness.drop(id, #"{"tasks": [{"name": "t", "command": ["sh", "-c", "exit 1"]}]}"#)
            try await harness.runUntilIdle()
            for _ in 0..<2 {
                try harness.drop(id, #"{"tasks": [{"name": "t", "command": ["sh", "-c", "echo run $GATHER_JOB"]}]}"#)
                try await harness.runUntilIdle()
            }
            #expect(try harness.record(id).area == "failed")
            for suffix in ["-2", "-3"] {
                let record = try harness.record(id + suffix)
                #expect(record.area == "done")
                #expect(record.object["id"] as? String == id + suffix)
                #expect(record.object["name"] as? String == id + suffix)
                #expect(record.object["file"] as? String == "\(id).json")
                // The task saw its own ID, and the journal files its entries under it.
                let output = try harness.journal(id + suffix).filter { $0["GATHER_TASK"] == "t" }
                #expect(output.map { $0["MESSAGE"] } == ["run \(id + suffix)"])
            }
            #expect(harness.area(of: id + "-4") == nil)

            // A 100-byte ID is shortened so that `-2` still fits.
            let long = id + "-" + String(repeating: "l", count: 99 - id.utf8.count)
            try #require(long.utf8.count == 100)
            for _ in 0..<2 {
                try harness.drop(long, #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)
                try await harness.runUntilIdle()
            }
            #expect(try harness.record(long).state == "succeeded")
            let shortened = String(long.prefix(98)) + "-2"
            #expect(try harness.record(shortened).state == "succeeded")
        }

        @Test func aFileNamedLikeARunningJobGetsTheNextFreeID() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("collide-active")
            let id = harness.id("busy")
            let go = harness.spool + "/go"
            let started = harness.spool + "/started"
            let script = jsonString("touch \(started); while [ ! -e \(go) ]; do sleep 0.05; done")
            try harness.drop(id, #"{"tasks": [{"name": "wait", "command": ["sh", "-c", \#(script)]}]}"#)
            let daemon = try harness.start(["--exit-when-idle"])
            #expect(await RunningDaemon.waitUntil { FileManager.default.fileExists(atPath: started) })
            // The ID is taken in active/ only: the second file must not touch the running job.
            try harness.drop(id, #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)
            #expect(await harness.waitForRecord(id + "-2"))
            #expect(harness.area(of: id) == "active")
            #expect(try harness.record(id + "-2").state == "succeeded")
            try #require(FileManager.default.createFile(atPath: go, contents: nil))
            #expect(await daemon.wait(limit: .seconds(20)) == 0)
            let record = try harness.record(id)
            #expect(record.state == "succeeded")
            #expect(record.outcome("wait") == "succeeded")
        }

        @Test func aBadFileNameIsRejectedUnderASanitisedID() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("badname")
            let marker = harness.spool + "/ran"
            let job = #"{"tasks": [{"name": "t", "command": ["touch", "\#(marker)"]}]}"#
            // Each byte outside the set becomes `_`, a first byte that is no letter or digit `x`.
            let odd = "+\(harness.prefix) odd?"
            let oddID = "x\(harness.prefix)_odd_"
            let binary = Array("\(harness.prefix)-".utf8) + [0xFF, 0xC3] + Array("-bin".utf8)
            let binaryID = "\(harness.prefix)-__-bin"
            let tooLong = "\(harness.prefix)-" + String(repeating: "z", count: 120)
            try harness.dropInPlace(name: Array("\(odd).json".utf8), job)
            try harness.dropInPlace(name: binary + Array(".json".utf8), job)
            try harness.dropInPlace(name: Array("\(tooLong).json".utf8), job)
            try await harness.runUntilIdle()
            // The same bad name again: the sanitised ID is taken, so `-2`.
            try harness.dropInPlace(name: Array("\(odd).json".utf8), job)
            try await harness.runUntilIdle()

            for id in [oddID, binaryID, String(tooLong.prefix(100)), oddID + "-2"] {
                let record = try harness.record(id)
                #expect(record.area == "rejected", "\(id)")
                #expect(record.state == "rejected", "\(id)")
                #expect(record.error?.contains("file name must match") == true, "\(id): \(record.error ?? "nil")")
                let rejected = try harness.journal(id).first { $0["MESSAGE_ID"] == "14aab89053904a78921c57d0c64d6cac" }
                #expect(rejected?["PRIORITY"] == "3", "\(id)")
                #expect(rejected?["MESSAGE"]?.contains("rejected: ") == true, "\(id)")
            }
            #expect(try harness.record(oddID).object["file"] as? String == "\(odd).json")
            #expect(try harness.journal(oddID).first?["MESSAGE"]?.hasPrefix("job file \(odd).json rejected: ") == true)
            #expect(!FileManager.default.fileExists(atPath: marker), "a job with a bad file name ran")
            #expect(try FileManager.default.contentsOfDirectory(atPath: harness.spool + "/incoming").isEmpty)
        }

        @Test func dotfilesAndOtherNamesAreLeftAloneInIncoming() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("ignored")
            let marker = harness.spool + "/ran"
            let job = #"{"tasks": [{"name": "t", "command": ["touch", "\#(marker)"]}]}"#
            let p = harness.prefix
            let beforeStart = [".\(p)-hidden.json", "\(p)-notes.txt", "\(p)-noext"]
            let whileRunning = [".\(p)-later.json", "\(p)-job.json.tmp", "\(p)-upper.JSON", ".\(p)-x.tmp"]
            for name in beforeStart { try harness.dropInPlace(name: Array(name.utf8), job) }

            // While it runs: renamed in (IN_MOVED_TO) and written in place (IN_CLOSE_WRITE).
            let daemon = try harness.start()
            for (index, name) in whileRunning.enumerated() {
                if index.isMultiple(of: 2) {
                    try harness.dropInPlace(name: Array(name.utf8), job)
                } else {
                    let temporary = harness.spool + "/incoming/.tmp-\(index)"
                    try Data(job.utf8).write(to: URL(fileURLWithPath: temporary))
                    try #require(rename(temporary, harness.spool + "/incoming/" + name) == 0)
                }
            }
            // A good job after them: once it is done, the events before it were handled.
            let good = try harness.drop(harness.id("good"), #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)
            #expect(await harness.waitForRecord(good))
            daemon.kill(SIGTERM)
            #expect(await daemon.wait(limit: .seconds(20)) == 0)

            // The start-up scan, and --exit-when-idle, must not count them as claimable.
            let other = try harness.drop(harness.id("other"), #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)
            let second = try await harness.runUntilIdle(limit: .seconds(30))

            let incoming = try FileManager.default.contentsOfDirectory(atPath: harness.spool + "/incoming")
            #expect(Set(incoming) == Set(beforeStart + whileRunning))
            for name in beforeStart + whileRunning {
                #expect((try? String(contentsOfFile: harness.spool + "/incoming/" + name, encoding: .utf8)) == job, "\(name)")
            }
            #expect(!FileManager.default.fileExists(atPath: marker), "an ignored file ran")
            #expect(try harness.record(good).state == "succeeded")
            #expect(try harness.record(other).state == "succeeded")
            for area in ["active", "done", "failed", "rejected"] {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: harness.spool + "/" + area)) ?? []
                #expect(Set(names).isSubset(of: [good, other]), "\(area): \(names)")
            }
            // Everything either daemon sent: about the good jobs only.
            let entries = try harness.entries(fromDaemon: daemon.pid) + harness.entries(fromDaemon: second.pid)
            #expect(entries.contains { $0["GATHER_JOB"] == good })
            let jobs = Set(entries.compactMap { $0["GATHER_JOB"] })
            #expect(jobs.isSubset(of: [good, other]), "\(jobs)")
            for name in beforeStart + whileRunning {
                #expect(!entries.contains { $0["MESSAGE"]?.contains(name) == true }, "an entry names \(name)")
            }
        }
    }
}
