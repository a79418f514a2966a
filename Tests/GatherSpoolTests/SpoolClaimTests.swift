import Foundation
import Gather
import Testing
@testable import GatherSpool

/// The claim against hostile entries built outside `incoming/` and renamed or
/// linked in (SPEC §3, §8). Needs root: entries are owned by uid 65534.
@Suite(.serialized) struct SpoolClaimTests {
    /// Claims `name` and expects a rejection whose error is `reason`, with a record in `rejected/`.
    func expectRejected(_ t: TestSpool, _ name: String, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let outcome = try t.spool.claim(name)
        guard case .rejected(let record) = outcome else {
            Issue.record("\(name): \(outcome) is not a rejection", sourceLocation: sourceLocation)
            return
        }
        #expect(record.error == reason, sourceLocation: sourceLocation)
        let result = t.json("\(t.path)/rejected/\(record.id)/result.json")
        #expect(result?["state"] == .string("rejected"), sourceLocation: sourceLocation)
        #expect(result?["error"] == .string(reason), sourceLocation: sourceLocation)
        #expect(t.entries("active").isEmpty && !t.entries("incoming").contains(name), sourceLocation: sourceLocation)
    }

    /// SPEC §3: an entry that was not a regular file with one link leaves only
    /// its record in `rejected/ID/`; the entry itself is deleted.
    func expectEntryDeleted(_ t: TestSpool, _ id: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(t.lstatOf("\(t.path)/rejected/\(id)/job.json") == nil, "rejected/\(id)/job.json is still there",
                sourceLocation: sourceLocation)
        #expect(t.entries("rejected/\(id)") == ["result.json"], sourceLocation: sourceLocation)
    }

    @Test func validFileIsClaimedWithOwnershipOfSection3And6() throws {
        guard isRoot else { print("skipped: needs root to own files as uid 65534"); return }
        let t = try TestSpool()
        t.drop("nightly.json", validJob, owner: 65534, group: 65534)
        guard case .claimed(let job) = try t.spool.claim("nightly.json") else { Issue.record("not claimed"); return }
        #expect(job.id == "nightly" && job.state.uid == 65534 && job.state.gid == 65534 && job.runAs.uid == 65534)
        let dir = "\(t.path)/active/nightly"
        // The submitter's file stays in place until state.json is durable: only
        // then does the daemon's copy replace it (a power loss in between must
        // never leave a daemon-owned job.json without the submitter's name).
        #expect(t.lstatOf(dir + "/job.json")?.st_uid == 65534)
        #expect(job.unsealedJobFile != nil)
        try t.spool.commit()
        try t.spool.seal(job)
        for (p, mode) in [(dir, 0o750), (dir + "/job.json", 0o640), (dir + "/state.json", 0o640)] {
            let st = try #require(t.lstatOf(p))
            #expect(st.st_uid == 0 && st.st_gid == 65534 && st.st_mode & 0o7777 == mode, "\(p)")
        }
        let state = try #require(t.json(dir + "/state.json").flatMap(JobStateFile.init(json:)))
        #expect(state == job.state && state.runs == 0 && state.phase == .queued && state.user == "nobody")

        try t.spool.finish(succeededRecord(job))
        #expect(t.entries("done/nightly") == ["job.json", "result.json"])
        let done = "\(t.path)/done/nightly"
        for (p, mode) in [(done, 0o750), (done + "/job.json", 0o640), (done + "/result.json", 0o640)] {
            let st = try #require(t.lstatOf(p))
            #expect(st.st_uid == 0 && st.st_gid == 65534 && st.st_mode & 0o7777 == mode, "\(p)")
        }
        for area in SpoolDirectory.Area.allCases where area != .incoming && area != .cancel {
            #expect(t.lstatOf("\(t.path)/\(area.rawValue)")?.st_mode ?? 0 & 0o7777 == S_IFDIR | 0o755)
        }
        #expect(t.lstatOf("\(t.path)/incoming")!.st_mode & 0o7777 == 0o700)
        let r = try #require(t.json(done + "/result.json"))
        #expect(r["state"] == .string("succeeded") && r["uid"] == .integer(65534) && r["user"] == .string("nobody"))
        #expect(r["error"] == .null && r["run_as"] == .string("nobody") && r["file"] == .string("nightly.json"))
        guard case .string(let run)? = r["run"], case .string(let received)? = r["received_at"] else { Issue.record("fields"); return }
        #expect(run.count == 32 && run.allSatisfy(\.isHexDigit))
        #expect(Timestamp(text: received)?.text == received && received.hasSuffix("Z") && received.count == 24)
        #expect(t.entries("active").isEmpty)
    }

    @Test func symlinkToRootOnlyFileIsRejectedUnread() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let t = try TestSpool()
        let secret = t.stageFile("secret", validJob, mode: 0o600)
        symlink(secret, t.stage + "/evil.json")
        lchown(t.stage + "/evil.json", 65534, 65534)
        t.dropStaged("evil.json")
        try expectRejected(t, "evil.json", "the file is a symbolic link")
        expectEntryDeleted(t, "evil")
        let st = try #require(t.lstatOf(secret))
        #expect(st.st_uid == 0 && st.st_mode & 0o7777 == 0o600)
        #expect(t.json("\(t.path)/rejected/evil/result.json")?["uid"] == .integer(65534))
    }

    @Test(.timeLimit(.minutes(1))) func fifoIsRejectedWithoutBlocking() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let t = try TestSpool()
        mkfifo(t.stage + "/pipe.json", 0o644)
        t.dropStaged("pipe.json")
        try expectRejected(t, "pipe.json", "the file is a FIFO")
        expectEntryDeleted(t, "pipe")
    }

    @Test func directoryAndDirectoryOfSymlinksAreRejectedAndRemovedWithoutFollowing() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let t = try TestSpool()
        let target = t.stageFile("target", "keep me", mode: 0o600)
        mkdir(t.stage + "/d.json", 0o755)
        mkdir(t.stage + "/links.json", 0o755)
        symlink(target, t.stage + "/links.json/x.json")
        symlink(t.stage, t.stage + "/links.json/up")
        t.dropStaged("d.json")
        t.dropStaged("links.json")
        try expectRejected(t, "d.json", "the file is a directory")
        try expectRejected(t, "links.json", "the file is a directory")
        // Deleted at the rejection, without following the links inside.
        expectEntryDeleted(t, "d")
        expectEntryDeleted(t, "links")
        #expect(FileManager.default.contents(atPath: target) == Data("keep me".utf8))
        #expect(t.lstatOf(t.stage) != nil)
        // Retention then deletes the directories with their records.
        let removed = try t.spool.removeExpired(olderThan: .zero, now: Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch + 1000))
        #expect(Set(removed) == ["rejected/d", "rejected/links"])
        #expect(t.records().isEmpty)
        #expect(FileManager.default.contents(atPath: target) == Data("keep me".utf8))
        #expect(t.lstatOf(t.stage) != nil)
    }

    @Test func hardLinkIsRejectedAndItsTargetUntouched() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let t = try TestSpool()
        let outside = t.stageFile("outside", validJob, owner: 0, group: 0, mode: 0o644)
        link(outside, t.path + "/incoming/h.json")
        try expectRejected(t, "h.json", "the file has 2 links (a hard link)")
        expectEntryDeleted(t, "h")
        let st = try #require(t.lstatOf(outside))
        #expect(st.st_uid == 0 && st.st_gid == 0 && st.st_mode & 0o7777 == 0o644 && st.st_nlink == 1)
        #expect(FileManager.default.contents(atPath: outside) == Data(validJob.utf8))
    }

    @Test func aDeepDirectoryIsDeletedAtItsRejection() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let t = try TestSpool()
        var path = t.stage + "/deep.json"
        mkdir(path, 0o755)
        for level in 0..<300 {
            path += "/d\(level)"
            #expect(mkdir(path, 0o755) == 0)
        }
        symlink("/etc/shadow", path + "/x.json")
        t.dropStaged("deep.json")
        try expectRejected(t, "deep.json", "the file is a directory")
        expectEntryDeleted(t, "deep")
    }

    @Test func aScanPassesOverAFileStillOpenForWriting() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let t = try TestSpool()
        let path = t.path + "/incoming/slow.json"
        let writer = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        try #require(writer >= 0)
        let half = #"{"tasks": [{"name": "t", "#
        _ = half.withCString { write(writer, $0, strlen($0)) }
        // A scan's claim leaves it while the writer has it open…
        let skipped = try t.spool.claim(Array("slow.json".utf8), skippingOpenForWriting: true)
        guard case .ignored = skipped else {
            Issue.record("claimed while open for writing: \(skipped)")
            close(writer)
            return
        }
        #expect(t.entries("incoming").contains("slow.json"))
        let rest = #""command": ["true"]}]}"#
        _ = rest.withCString { write(writer, $0, strlen($0)) }
        close(writer)
        // …and takes it whole once it is closed.
        guard case .claimed(let job) = try t.spool.claim(Array("slow.json".utf8), skippingOpenForWriting: true) else {
            Issue.record("not claimed after the close")
            return
        }
        #expect(job.job.tasks.map(\.name) == ["t"])
    }

    @Test func worldWritableAndOversizedFilesAreRejected() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let t = try TestSpool()
        t.drop("ww.json", validJob, owner: 65534, group: 65534, mode: 0o666)
        try expectRejected(t, "ww.json", "the file is writable by group or others")
        let big = validJob + String(repeating: " ", count: 2 << 20)
        t.drop("big.json", big, owner: 65534, group: 65534)
        try expectRejected(t, "big.json", "the file is larger than 1 MiB")
    }

    @Test func ownerCannotChangeTheFileAfterTheClaim() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let t = try TestSpool()
        let staged = t.stageFile("late.json", validJob, owner: 65534, group: 65534)
        // The owner keeps a descriptor open from before the drop.
        let fd = open(staged, O_WRONLY | O_CLOEXEC)
        #expect(fd >= 0)
        t.dropStaged("late.json")
        guard case .claimed(let job) = try t.spool.claim("late.json") else { Issue.record("not claimed"); return }
        let evil = #"{"tasks":[{"name":"a","command":["/bin/evil"]}]}"#
        _ = Array(evil.utf8).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        close(fd)
        // The daemon's turn ends: state.json durable, then job.json sealed. A
        // write through the kept descriptor before that is overwritten by what was read.
        try t.spool.commit()
        try t.spool.seal(job)
        // The job runs what was read.
        #expect(job.job.tasks[0].command == ["/bin/true"])
        // By path the owner can no longer reach or chmod it: it belongs to the daemon.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/chmod", "0666", "\(t.path)/active/late/job.json"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus != 0)
        let st = try #require(t.lstatOf("\(t.path)/active/late/job.json"))
        #expect(st.st_uid == 0 && st.st_mode & 0o7777 == 0o640)
        // Nor through the descriptor it kept: job.json is the daemon's copy of what
        // was read, so the record and recovery see the checked file.
        let stored = try String(contentsOfFile: "\(t.path)/active/late/job.json", encoding: .utf8)
        #expect(stored == validJob)
        guard case .run(let again, _)? = try t.reopen().recover().jobs.first else { Issue.record("not recovered"); return }
        #expect(again.job.tasks[0].command == ["/bin/true"])
    }

    @Test func namesIDsAndCollisions() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let t = try TestSpool()
        t.drop(".hidden.json", validJob)
        t.drop("notes.txt", validJob)
        #expect(try t.spool.claim(".hidden.json").isIgnored && t.spool.claim("notes.txt").isIgnored)
        t.drop("-bad name!.json", validJob)
        try expectRejected(t, "-bad name!.json", #"file name must match ^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}\.json$"#)
        #expect(t.records() == ["rejected/xbad_name_"])
        for _ in 0..<2 {
            t.drop("job.json", validJob)
            _ = try t.spool.claim("job.json")
        }
        #expect(t.entries("active") == ["job", "job-2"])
        let long = String(repeating: "a", count: 100)
        t.drop(long + ".json", validJob)
        _ = try t.spool.claim(long + ".json")
        t.drop(long + ".json", validJob)
        _ = try t.spool.claim(long + ".json")
        #expect(t.entries("active").contains(String(repeating: "a", count: 98) + "-2"))
        #expect(try t.spool.claim("gone.json").isVanished)
        #expect(JobID.sanitized(Array("é.x".utf8)) == "x_.x")
        #expect(try t.spool.queuedCounts() == [0: 4])
    }

    @Test func invalidContentIsRejectedWithEveryError() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let t = try TestSpool()
        t.drop("bad.json", #"{"policy":"x","tasks":[]}"#, owner: 65534, group: 65534)
        try expectRejected(t, "bad.json", #"policy: must be "collect-all", "fail-fast", "cancel-siblings" or "first-success"; tasks: must be an array of 1 to 10000 tasks"#)
        let st = try #require(t.lstatOf("\(t.path)/rejected/bad/job.json"))
        #expect(st.st_uid == 0 && st.st_gid == 65534 && st.st_mode & 0o7777 == 0o640)
        t.drop("ghost.json", validJob, owner: 4242, group: 4242)
        try expectRejected(t, "ghost.json", "the file owner (uid 4242) has no passwd entry")
    }

    @Test func unsafeSpoolDirectoriesAreRefused() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let t = try TestSpool()
        chmod(t.path + "/done", 0o777)
        #expect(throws: SpoolError.self) { _ = try t.reopen() }
        chmod(t.path + "/done", 0o755)
        chmod(t.path + "/incoming", 0o777)
        #expect { _ = try t.reopen() } throws: { ($0 as? SpoolError)?.code == .unsafeDirectory }
        chmod(t.path + "/incoming", 0o1733)
        _ = try t.reopen()
        chown(t.path + "/failed", 65534, 0)
        #expect { _ = try t.reopen() } throws: { ($0 as? SpoolError)?.description.contains("failed is writable by someone other") == true }
        chown(t.path + "/failed", 0, 0)
        rename(t.path + "/rejected", t.base + "/elsewhere")
        symlink(t.base + "/elsewhere", t.path + "/rejected")
        #expect { _ = try t.reopen() } throws: { ($0 as? SpoolError)?.description.contains("symbolic link") == true }
    }
}

extension ClaimOutcome {
    var isIgnored: Bool { if case .ignored = self { true } else { false } }
    var isVanished: Bool { if case .vanished = self { true } else { false } }
}

extension SpoolClaimTests {
    /// The group commit keeps a duplicate of every descriptor it will sync:
    /// at most ``PendingSync/limit`` at once (a burst is committed early
    /// rather than running out of descriptors), and none after the commit.
    @Test func theGroupCommitKeepsABoundedNumberOfDescriptors() throws {
        let t = try TestSpool()
        // Descriptors of this process open on the spool's job directories and
        // their files (other tests run in the same process at the same time).
        func kept() -> Int {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            return fds.count { fd in
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"))?.hasPrefix(t.path + "/active/") == true
            }
        }
        var most = 0
        for n in 0..<600 {
            t.drop("burst-\(n).json", validJob)
            guard case .claimed = try t.spool.claim("burst-\(n).json") else { Issue.record("burst-\(n) not claimed"); return }
            most = max(most, kept())
        }
        // Each claim keeps two (state.json and its directory).
        #expect(most > 100 && most <= PendingSync.limit, "kept \(most)")
        try t.spool.commit()
        #expect(kept() == 0)
    }
}
