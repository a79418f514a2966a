import GatherSystem
import Foundation
import Gather
import Testing
@testable import GatherSpool

/// Stops the spool at one step, as a crash would (once).
final class FaultSwitch: @unchecked Sendable {
    let point: SpoolFaultPoint
    private let lock = NSLock()
    private var isArmed = true
    init(_ point: SpoolFaultPoint) { self.point = point }
    var armed: Bool { lock.withLock { isArmed } }
    func fire(_ at: SpoolFaultPoint) -> Bool {
        lock.withLock {
            guard at == point, isArmed else { return false }
            isArmed = false
            return true
        }
    }
}

/// A crash between any two steps of the claim or the finish, then recovery on
/// the same directory: exactly one terminal record per dropped file, and a
/// finished job is never run again (SPEC §3 invariants).
@Suite(.serialized) struct SpoolCrashTests {
    /// Runs a job "to the end" the way the daemon would: start, then finish.
    func run(_ spool: SpoolDirectory, _ job: ClaimedJob) throws {
        _ = try spool.markStarted(job)
        try spool.finish(succeededRecord(job))
    }

    /// After a restart: recovery, then the start-up scan of `incoming/`. Returns how many runs it started.
    func restart(_ t: TestSpool) throws -> Int {
        let spool = try t.reopen()
        var runs = 0
        let report = try spool.recover()
        for job in report.jobs {
            switch job {
            case .run(let claimed, _): try run(spool, claimed); runs += 1
            case .interrupt(let record, _, _, _): try spool.finish(record)
            }
        }
        for name in try spool.names(in: .incoming) {
            if case .claimed(let claimed) = try spool.claim(name) { try run(spool, claimed); runs += 1 }
        }
        return runs
    }

    @Test(arguments: SpoolFaultPoint.allCases, [true, false])
    func crashAtEveryStep(_ point: SpoolFaultPoint, valid: Bool) throws {
        let fault = FaultSwitch(point)
        let t = try TestSpool(faults: { fault.fire($0) })
        t.drop("job.json", valid ? validJob : #"{"tasks":[]}"#)
        var finished = false
        do throws(SpoolError) {
            if case .claimed(let job) = try t.spool.claim("job.json") {
                _ = try t.spool.markStarted(job)
                try t.spool.finish(succeededRecord(job))
            }
            finished = true
        } catch {
            #expect(error.code == .injected && error.context == point.rawValue)
        }
        // Points the path does not pass (a rejection writes no state) simply never fire.
        let crashed = !fault.armed
        #expect(crashed != finished)
        // From the temporary record on, the record is written: recovery takes it.
        let resultWasInPlace = crashed && [.finishTemporaryWritten, .finishResultInPlace, .finishDirectoryMoved].contains(point)
        let recordBefore = t.json("\(t.path)/active/job/result.json") ?? t.json("\(t.path)/active/job/.result.json.tmp")
            ?? t.json("\(t.path)/done/job/result.json")
        let reruns = try restart(t)
        #expect(t.records().count == 1, "\(point) valid=\(valid): \(t.records())")
        #expect(t.entries("active").isEmpty && t.entries("incoming").isEmpty)
        if !valid {
            #expect(t.records() == ["rejected/job"])
            #expect(reruns == 0)
        } else if resultWasInPlace || !crashed {
            // Finished before the crash: never run again, the record is the first one.
            #expect(reruns == 0)
            #expect(t.records() == ["done/job"])
            #expect(t.json("\(t.path)/done/job/result.json")?["run"] == recordBefore?["run"])
        } else {
            // Crashed during the claim: never started, so it runs once now.
            #expect(reruns == 1)
            #expect(t.records() == ["done/job"])
        }
        // A second restart changes nothing.
        #expect(try restart(t) == 0)
        #expect(t.records().count == 1)
    }

    @Test func restartableJobRunsAtMostThreeTimes() throws {
        let t = try TestSpool()
        t.drop("again.json", #"{"restartable":true,"tasks":[{"name":"a","command":["/bin/true"]}]}"#)
        guard case .claimed(var job) = try t.spool.claim("again.json") else { Issue.record("not claimed"); return }
        let run = try t.spool.markStarted(job)
        // A process group of this run that is still alive (this test process's own group would be
        // wrong to kill: record a sleeping child instead).
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        defer { child.terminate() }
        let pid = child.processIdentifier
        let start = try #require(ProcStat.startTime(of: pid))
        // Two groups in the progress log, as children record themselves: the
        // second's start time is not the live process's (a reused PID).
        run.log.started(index: 0, task: "a", attempt: 1, pgid: pid, startTime: start)
        run.log.started(index: 0, task: "a", attempt: 2, pgid: pid, startTime: start + 1)
        var runsSeen: [Int] = []
        for crash in 1...3 {
            let spool = try t.reopen()
            let report = try spool.recover()
            #expect(report.jobs.count == 1)
            switch report.jobs.first {
            case .run(let again, let leftovers):
                // Only the group whose start time still matches is reported for killing.
                if crash == 1 { #expect(leftovers.map(\.startTime) == [start]) }
                runsSeen.append(again.state.runs)
                job = again
                _ = try spool.markStarted(job)
            case .interrupt(let record, _, _, _):
                #expect(crash == 3)
                #expect(record.state == .interrupted && record.tasks.first?.outcome == .skipped)
                try spool.finish(record)
            case nil: Issue.record("nothing recovered")
            }
        }
        #expect(runsSeen == [1, 2])
        #expect(t.records() == ["failed/again"])
    }

    @Test func recoveryKeepsTheSubmitterFromStateJSON() throws {
        guard isRoot else { print("skipped: needs root"); return }
        let fault = FaultSwitch(.claimFileOwned)
        let t = try TestSpool(faults: { fault.fire($0) })
        t.drop("mine.json", validJob, owner: 65534, group: 65534)
        #expect(throws: SpoolError.self) { _ = try t.spool.claim("mine.json") }
        let report = try t.reopen().recover()
        guard case .run(let job, _)? = report.jobs.first else { Issue.record("not queued again"); return }
        #expect(job.state.uid == 65534 && job.runAs.uid == 65534)
        let st = try #require(t.lstatOf("\(t.path)/active/mine"))
        #expect(st.st_uid == 0 && st.st_gid == 65534 && st.st_mode & 0o7777 == 0o750)
    }
}

extension SpoolCrashTests {
    /// A file rejected for its name whose record cannot be written: the file
    /// stays its submitter's (recovery must never take the daemon's user for
    /// the submitter) and the error hands the record to the caller to retry.
    @Test(arguments: [SpoolFaultPoint.finishTemporaryWritten, .finishResultInPlace])
    func aRejectionWhoseRecordFailsKeepsItsSubmitterAndItsRecord(_ point: SpoolFaultPoint) throws {
        guard isRoot else { print("skipped: needs root"); return }
        let fault = FaultSwitch(point)
        let t = try TestSpool(faults: { fault.fire($0) })
        t.drop("bad name.json", validJob, owner: 65534, group: 65534)
        var kept: JobRecord?
        do throws(SpoolError) {
            _ = try t.spool.claim("bad name.json")
            Issue.record("the claim went through")
        } catch {
            kept = error.record
        }
        let record = try #require(kept)
        #expect(record.state == .rejected && record.id == "bad_name" && record.uid == 65534)
        #expect(record.error?.contains("file name must match") == true)
        let st = try #require(t.lstatOf("\(t.path)/active/bad_name/job.json"))
        #expect(st.st_uid == 65534, "the file was handed to the daemon before its record was written")
        // The caller writes the record it was handed; recovery then has nothing to run.
        try t.spool.finish(record)
        #expect(t.records() == ["rejected/bad_name"])
        #expect(try t.reopen().recover().jobs.isEmpty)
        let kept2 = try #require(t.lstatOf("\(t.path)/rejected/bad_name/job.json"))
        #expect(kept2.st_uid == 65534)
    }
}

/// The record write on a full file system (SPEC §3): a small tmpfs mounted in a
/// private mount namespace by a helper process of its own.
@Suite struct SpoolFullDiskTests {
    @Test(.timeLimit(.minutes(2))) func recordWriteFailsCleanlyAndRetrySucceeds() throws {
        guard isRoot else { print("skipped: needs root to mount a tmpfs"); return }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { print("skipped: no unshare"); return }
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test bundle may sit one level down (…/gatherdPackageTests.xctest/…).
        while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("gather-spool-helper").path), dir.path != "/" {
            dir.deleteLastPathComponent()
        }
        let helper = dir.appendingPathComponent("gather-spool-helper").path
        try #require(FileManager.default.isExecutableFile(atPath: helper))
        let t = try TestSpool()
        let mountPoint = t.base + "/small"
        mkdir(mountPoint, 0o755)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        p.arguments = ["--mount", "--propagation", "private", "/bin/sh", "-c",
                       #"mount -t tmpfs -o size=256k tmpfs "$1" && exec "$2" fulldisk "$1""#, "sh", mountPoint, helper]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        print(text)
        #expect(p.terminationStatus == 0)
        #expect(text.contains("first finish: spool write error: "))
        #expect(text.contains("No space left on device"))
        #expect(text.contains("still active: true") && text.contains("no partial record: true"))
        #expect(text.contains("retry: recorded in done"))
        // The tmpfs was private to the helper: nothing is mounted here.
        #expect(t.entries("../small").isEmpty)
    }
}

extension SpoolCrashTests {
    /// A `state.json` that is there but cannot be read (cut short by a power
    /// loss) names the submitter no more: the job is recorded `rejected` and
    /// never run, whoever owns `job.json` (the daemon, once sealed).
    @Test func anUnreadableStateIsRejectedNotRun() throws {
        let t = try TestSpool()
        t.drop("lost.json", validJob)
        guard case .claimed(let job) = try t.spool.claim("lost.json") else { Issue.record("not claimed"); return }
        try t.spool.commit()
        try t.spool.seal(job)
        let state = "\(t.path)/active/lost/state.json"
        try #require(truncate(state, 7) == 0)
        let report = try t.reopen().recover()
        #expect(report.jobs.isEmpty)
        let record = try #require(report.rejected.first)
        #expect(record.id == "lost" && record.state == .rejected)
        #expect(record.error?.hasPrefix("the job's state was lost in a crash") == true, "\(record.error ?? "")")
        #expect(t.records() == ["rejected/lost"])
    }
}
