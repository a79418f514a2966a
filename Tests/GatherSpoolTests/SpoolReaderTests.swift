import Foundation
import Gather
import GatherSystem
import Testing
@testable import GatherSpool

/// `SpoolReader`: the read-only view gatherctl and recovery share (SPEC §3,
/// §6). It opens everything by descriptor and never follows a link.
@Suite(.serialized) struct SpoolReaderTests {
    @Test func readsRecordsStateAndListingsTyped() throws {
        let t = try TestSpool()
        t.drop("running.json", validJob)
        t.drop("ended.json", validJob)
        guard case .claimed(let running) = try t.spool.claim("running.json"),
              case .claimed(let ended) = try t.spool.claim("ended.json") else { Issue.record("not claimed"); return }
        let record = succeededRecord(ended)
        try t.spool.finish(record)

        let reader = try SpoolReader(path: t.path)
        #expect(try reader.ids(in: .active) == ["running"])
        #expect(try reader.ids(in: .done) == ["ended"])
        #expect(try reader.ids(in: .failed).isEmpty)
        let found = try #require(try reader.finished("ended"))
        #expect(found.area == .done)
        #expect(found.record.value == record)
        // As stored, byte for byte: `gatherctl show --json` prints these.
        #expect(found.record.bytes == record.json.serializedBytes(trailingNewline: true))
        #expect(try reader.finished("running") == nil)
        #expect(try reader.record("ended", in: .failed) == nil)

        #expect(reader.state("running")?.value == running.state)
        #expect(reader.state("ended") == nil)
        #expect(reader.hasJobFile("running") && !reader.hasJobFile("ended"))
        #expect(reader.contains("ended", in: .done) && !reader.contains("ended", in: .failed))
        #expect(reader.recordWritten("ended", in: .done) != nil && reader.recordWritten("running", in: .active) == nil)
        #expect(reader.ownerUID == getuid())
        // Not an ID: never looked up, so it cannot climb out of the area.
        #expect(try reader.finished("../done/ended") == nil)
        #expect(reader.state("../active/running") == nil)
    }

    @Test func linksAreNeverFollowed() throws {
        let t = try TestSpool()
        #expect(symlink(t.path, t.base + "/link") == 0)
        let refused = #expect(throws: SpoolError.self) { try SpoolReader(path: t.base + "/link") }
        // O_DIRECTORY|O_NOFOLLOW on a link: ENOTDIR on Linux (ELOOP elsewhere).
        #expect([ELOOP, ENOTDIR].contains(refused?.errno?.rawValue ?? 0))

        let reader = try SpoolReader(path: t.path)
        let secret = t.stageFile("secret", #"{"id": "x"}"#, mode: 0o600)
        #expect(mkdir(t.path + "/failed/evil", 0o755) == 0)
        #expect(symlink(secret, t.path + "/failed/evil/result.json") == 0)
        let error = #expect(throws: SpoolError.self) { try reader.finished("evil") }
        #expect(error?.errno?.rawValue == ELOOP)
        // A directory linked in as a job is not a job directory.
        #expect(symlink(t.path + "/failed/evil", t.path + "/done/alias") == 0)
        #expect(throws: SpoolError.self) { try reader.record("alias", in: .done) }
    }

    @Test func aRecordThisVersionDidNotWriteIsCorrupt() throws {
        let t = try TestSpool()
        let reader = try SpoolReader(path: t.path)
        #expect(mkdir(t.path + "/done/odd", 0o755) == 0)
        _ = FileManager.default.createFile(atPath: t.path + "/done/odd/result.json", contents: Data(#"{"id": "odd", "state": "paused"}"#.utf8))
        let error = #expect(throws: SpoolError.self) { try reader.finished("odd") }
        #expect(error?.code == .corrupt)
        #expect(error?.context.hasSuffix("done/odd/result.json: not a record this version can read") == true, "\(String(describing: error))")
    }

    @Test func anAreaMadeAfterTheReaderOpenedIsFound() throws {
        var template = Array("/tmp/gather-reader-test-XXXXXX".utf8CString)
        let base = String(cString: try #require(mkdtemp(&template)))
        defer { try? SpoolDirectory.removeTree(AT_FDCWD, Array(base.utf8), depth: 0) }
        let reader = try SpoolReader(path: base)
        #expect(throws: SpoolError.self) { try reader.ids(in: .done) }
        #expect(!reader.contains("x", in: .done))
        // gatherctl reads, never creates: the daemon makes the areas when it starts.
        #expect(FileManager.default.fileExists(atPath: base + "/done") == false)
        #expect(mkdir(base + "/done", 0o755) == 0 && mkdir(base + "/done/x", 0o755) == 0)
        #expect(try reader.ids(in: .done) == ["x"])
    }

    @Test func recoveryFinishesTheMoveOfAnyRecordPresent() throws {
        let t = try TestSpool()
        for name in ["kept", "garbled"] {
            t.drop("\(name).json", validJob)
            guard case .claimed = try t.spool.claim("\(name).json") else { Issue.record("not claimed"); return }
        }
        // A rejected record left in active/ by a crash goes where its typed state says.
        var record = JobRecord(id: "kept", name: "kept", file: "kept.json", state: .rejected, policy: nil, uid: 0, gid: 0,
                               user: "root", runAs: nil, receivedAt: .now(), startedAt: nil, error: "queue full", tasks: [])
        record.finishedAt = .now()
        _ = FileManager.default.createFile(atPath: t.path + "/active/kept/result.json", contents: Data(record.json.serializedBytes()))
        // One that cannot be read was still written whole: the job ended, in failed/.
        _ = FileManager.default.createFile(atPath: t.path + "/active/garbled/result.json", contents: Data("{\"id\": ".utf8))
        let report = try t.reopen().recover()
        #expect(report.completed.sorted() == ["garbled", "kept"])
        #expect(t.records() == ["failed/garbled", "rejected/kept"])
    }
}
