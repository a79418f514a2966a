import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `gatherctl submit` without a daemon: what lands in `incoming/`, under
/// which name, and that nothing lands when one file is invalid.
@Suite("gatherctl submit", .timeLimit(.minutes(2)))
struct SubmitCommandTests {
    static let job = #"{"tasks": [{"name": "a", "command": ["true"]}]}"#

    @Test func writesTheFileUnderItsStem() async throws {
        let harness = try CtlHarness("submit-stem")
        let path = try harness.file("nightly.json", Self.job)
        let result = try await harness.ctl(["submit", path])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stdoutText == "nightly\n")
        #expect(harness.names("incoming") == ["nightly.json"])  // no temporary file left
        let written = try Data(contentsOf: URL(fileURLWithPath: harness.spool + "/incoming/nightly.json"))
        #expect(written == Data(Self.job.utf8))
        var info = stat()
        #expect(stat(harness.spool + "/incoming/nightly.json", &info) == 0)
        // The daemon refuses files writable by group or others (SPEC §8).
        #expect(info.st_mode & 0o777 == 0o644)
        #expect(info.st_uid == geteuid())
    }

    @Test func aTakenIDGetsEightRandomHexDigits() async throws {
        let harness = try CtlHarness("submit-collision")
        for area in ["done", "failed", "rejected", "active"] {
            try FileManager.default.createDirectory(atPath: "\(harness.spool)/\(area)/used-\(area)", withIntermediateDirectories: true)
        }
        try Data("{}".utf8).write(to: URL(fileURLWithPath: harness.spool + "/incoming/waiting.json"))
        let paths = try ["done", "failed", "rejected", "active"].map { try harness.file("used-\($0).json", Self.job) }
            + [harness.file("waiting.json", Self.job)]
        let result = try await harness.ctl(["submit"] + paths)
        #expect(result.status == 0, "\(result.output)")
        let ids = result.stdoutText.split(separator: "\n").map(String.init)
        let stems = ["used-done", "used-failed", "used-rejected", "used-active", "waiting"]
        #expect(ids.count == stems.count)
        for (id, stem) in zip(ids, stems) {
            #expect(id.wholeMatch(of: try Regex("\(stem)-[0-9a-f]{8}")) != nil, "\(id)")
            #expect(FileManager.default.fileExists(atPath: "\(harness.spool)/incoming/\(id).json"))
        }
        // The file already waiting was not replaced.
        #expect(try String(contentsOfFile: harness.spool + "/incoming/waiting.json", encoding: .utf8) == "{}")
    }

    @Test func twoFilesWithOneStemGetTwoIDs() async throws {
        let harness = try CtlHarness("submit-twice")
        let path = try harness.file("same.json", Self.job)
        let result = try await harness.ctl(["submit", path, path])
        #expect(result.status == 0, "\(result.output)")
        let ids = result.stdoutText.split(separator: "\n").map(String.init)
        #expect(ids.first == "same")
        #expect(ids.last?.wholeMatch(of: /same-[0-9a-f]{8}/) != nil, "\(ids)")
        #expect(harness.names("incoming").count == 2)
    }

    @Test func oneInvalidFileSubmitsNothing() async throws {
        let harness = try CtlHarness("submit-all-or-nothing")
        let good = try harness.file("good.json", Self.job)
        let bad = try harness.file("bad.json", #"{"tasks": [{"name": "a", "command": ["true"], "retries": 101}]}"#)
        let result = try await harness.ctl(["submit", good, bad])
        #expect(result.status == 1)
        #expect(result.stderrText.contains("\(bad): tasks[0].retries: must be an integer from 0 to 100"), "\(result.output)")
        #expect(result.stderrText.contains("nothing submitted"))
        #expect(result.stdout.isEmpty)
        #expect(harness.names("incoming").isEmpty)
    }

    @Test func stdinWithAnIDAndAnInvalidStem() async throws {
        let harness = try CtlHarness("submit-stdin")
        let path = try harness.file("my job!.json", Self.job)
        let piped = try await CtlHarness.run(["/bin/sh", "-c", "\"$0\" --spool \"$1\" submit --id from-stdin - < \"$2\"",
                                     CtlHarness.gatherctl, harness.spool, path])
        #expect(piped.status == 0, "\(piped.output)")
        #expect(piped.stdoutText == "from-stdin\n")
        // A name that is not an ID is made one the way the daemon would.
        let named = try await harness.ctl(["submit", "--json", path])
        #expect(named.status == 0, "\(named.output)")
        let ids = try #require(try JSONSerialization.jsonObject(with: named.stdout) as? [String])
        #expect(ids == ["my_job_"])
        #expect(harness.names("incoming") == ["from-stdin.json", "my_job_.json"])
    }

    @Test func anUnwritableIncomingIsASystemErrorAndLeavesNothing() async throws {
        let harness = try CtlHarness("submit-readonly")
        let path = try harness.file("x.json", Self.job)
        try FileManager.default.removeItem(atPath: harness.spool + "/incoming")
        // A file where the directory should be: the directory is no spool, and nothing is created.
        try Data().write(to: URL(fileURLWithPath: harness.spool + "/incoming"))
        let result = try await harness.ctl(["submit", path])
        #expect(result.status == 2)
        #expect(result.stderrText.contains("is not a gatherd spool (it has no incoming/ directory)"), "\(result.output)")
        #expect(harness.names("").sorted() == ["cancel", "incoming"])
    }

    @Test func concurrentSubmitsOfOneStemNeverReplaceEachOther() async throws {
        let harness = try CtlHarness("submit-race")
        let path = try harness.file("race.json", Self.job)
        let runs = try (0..<8).map { _ in try harness.startCtl(["submit", path]) }
        var ids: [String] = []
        for run in runs {
            #expect(await run.wait() == 0, "\(run.stderr)")
            ids.append(run.stdout.trimmingCharacters(in: .newlines))
        }
        #expect(Set(ids).count == 8, "\(ids)")
        #expect(ids.filter { $0 == "race" }.count == 1, "\(ids)")
        #expect(harness.names("incoming") == ids.map { "\($0).json" }.sorted())
    }

    @Test func theCallerIsTheOwnerTheValidatorChecks() async throws {
        guard getuid() == 0 else {
            print("skipped: running gatherctl as another user needs root (uid \(getuid()))")
            return
        }
        let harness = try CtlHarness("submit-nobody")
        let path = try harness.file("as-root.json", #"{"user": "root", "tasks": [{"name": "a", "command": ["true"]}]}"#)
        chmod(harness.files, 0o755)
        let asNobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", CtlHarness.gatherctl, "--spool", harness.spool]
        // A build folder under a private home cannot be reached by nobody: nothing to prove then.
        guard try await CtlHarness.run(asNobody + ["--help"]).status == 0 else {
            print("skipped: nobody cannot run \(CtlHarness.gatherctl)")
            return
        }
        // Only a root-owned file may name another user (SPEC §8): as nobody, an error.
        let validate = try await CtlHarness.run(asNobody + ["validate", path])
        #expect(validate.status == 1, "\(validate.output)")
        #expect(validate.stdoutText.contains("user: must be the file owner (nobody)"), "\(validate.output)")
        #expect(try await harness.ctl(["validate", path]).status == 0)
        // incoming/ is 0700 root: nobody may not submit, and hears why.
        let plain = try harness.file("plain.json", Self.job)
        let submit = try await CtlHarness.run(asNobody + ["submit", plain])
        #expect(submit.status == 2, "\(submit.output)")
        #expect(submit.stderrText.contains("Permission denied"), "\(submit.output)")
        #expect(harness.names("incoming").isEmpty)
    }

    /// SPEC §8's shared spool: `incoming/` and `cancel/` at 1730, group
    /// `nogroup`. A member may enter them but not list them, and still sees
    /// and cancels its own waiting job.
    @Test func aGroupMemberSeesAndCancelsItsJobInAnIncomingItCannotList() async throws {
        guard getuid() == 0 else {
            print("skipped: running gatherctl as another user needs root (uid \(getuid()))")
            return
        }
        let harness = try CtlHarness("submit-group")
        chmod(harness.files, 0o755)
        let asNobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", CtlHarness.gatherctl, "--spool", harness.spool]
        guard try await CtlHarness.run(asNobody + ["--help"]).status == 0 else {
            print("skipped: nobody cannot run \(CtlHarness.gatherctl)")
            return
        }
        for area in ["incoming", "cancel"] {
            let path = "\(harness.spool)/\(area)"
            #expect(chown(path, 0, getgrnam("nogroup").pointee.gr_gid) == 0)
            #expect(chmod(path, 0o1730) == 0)
        }
        let id = harness.id("mine")
        let file = try harness.file("mine.json", Self.job)
        chmod(file, 0o644)
        let submit = try await CtlHarness.run(asNobody + ["submit", "--id", id, file])
        #expect(submit.status == 0, "\(submit.output)")
        let show = try await CtlHarness.run(asNobody + ["show", id])
        #expect(show.status == 0, "\(show.output)")
        #expect(show.stdoutText.contains("job \(id): waiting in \(harness.spool)/incoming, not claimed yet"), "\(show.output)")
        let cancel = try await CtlHarness.run(asNobody + ["cancel", id])
        #expect(cancel.status == 0, "\(cancel.output)")
        #expect(harness.names("cancel") == [id])
    }
}
