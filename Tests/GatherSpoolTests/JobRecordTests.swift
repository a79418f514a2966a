import Foundation
import Gather
import GatherSystem
import Testing
@testable import GatherSpool

@Suite struct JobRecordTests {
    @Test func recordShapeFollowsSection6() throws {
        let t0 = Timestamp(millisecondsSinceEpoch: 1_795_575_600_120)
        #expect(t0.text == "2026-11-25T03:00:00.120Z")
        #expect(Timestamp(text: t0.text) == t0)
        let record = JobRecord(id: "nb", name: "nb", file: "nb.json", state: .failed, policy: .cancelSiblings,
                               uid: 1000, gid: 1000, user: "alice", runAs: "alice", receivedAt: t0, startedAt: t0,
                               finishedAt: t0, error: "CompoundError, 1 error [dump-db: exited with status 1] (1 cancelled, 1 skipped)",
                               tasks: [
                                   .init(name: "dump-db", outcome: .failed, exitStatus: 1, attempts: 1, startedAt: t0, durationMS: 812, stderr: Array("boom\n".utf8)),
                                   .init(name: "sync-files", outcome: .cancelled, reason: "dump-db failed", signal: "SIGTERM", attempts: 1, startedAt: t0, durationMS: 790, stderr: Array("hidden".utf8)),
                                   .init(name: "prune", outcome: .skipped, reason: "dump-db did not succeed", attempts: 0),
                               ])
        let json = record.json
        guard case .object(let top) = json, case .array(let tasks)? = json["tasks"] else { Issue.record("shape"); return }
        #expect(top.map(\.key) == ["id", "run", "name", "file", "state", "policy", "uid", "user", "run_as",
                                   "received_at", "started_at", "finished_at", "error", "tasks"])
        guard case .object(let failed) = tasks[0], case .object(let cancelled) = tasks[1], case .object(let skipped) = tasks[2] else { return }
        #expect(failed.map(\.key) == ["name", "outcome", "exit_status", "signal", "attempts", "started_at", "duration_ms", "stderr_tail"])
        #expect(tasks[0]["signal"] == .null && tasks[0]["stderr_tail"] == .string("boom\n"))
        #expect(cancelled.map(\.key) == ["name", "outcome", "reason", "exit_status", "signal", "attempts", "started_at", "duration_ms", "stderr_tail"])
        // Tails are kept for error outcomes only.
        #expect(tasks[1]["stderr_tail"] == .string("") && tasks[1]["exit_status"] == .null)
        #expect(skipped.map(\.key) == ["name", "outcome", "reason", "attempts"])
        // The text reads back as the same value.
        #expect(StrictJSONReader.read(json.serializedBytes()).value == json)
        #expect(record.stateDirectory == .failed)
    }

    @Test func recordDecodesWhatItEncodes() throws {
        let t0 = Timestamp(millisecondsSinceEpoch: 1_795_575_600_120)
        let t1 = Timestamp(millisecondsSinceEpoch: 1_795_575_601_932)
        // Tails only on error outcomes, within their caps: what the record keeps.
        let record = JobRecord(id: "nb", name: "nightly backup", file: "nb.json", state: .failed, policy: .cancelSiblings,
                               uid: 1000, gid: 1001, user: "alice", runAs: "bob", receivedAt: t0, startedAt: t0,
                               finishedAt: t1, error: "CompoundError, 1 error [dump-db: exited with status 1] (1 cancelled, 1 skipped)",
                               tasks: [
                                   .init(name: "dump-db", outcome: .failed, exitStatus: 1, attempts: 2, startedAt: t0, durationMS: 812, stderr: Array("boom \u{1}é\n".utf8)),
                                   .init(name: "sync-files", outcome: .cancelled, reason: "dump-db failed", signal: "SIGTERM", attempts: 1, startedAt: t0, durationMS: 790),
                                   .init(name: "slow", outcome: .timedOut, signal: "SIGKILL", attempts: 1, startedAt: t1, durationMS: 0, stderr: Array("late".utf8)),
                                   .init(name: "prune", outcome: .skipped, reason: "dump-db did not succeed", attempts: 0),
                               ])
        let bytes = record.json.serializedBytes(trailingNewline: true)
        let json = try #require(StrictJSONReader.read(bytes).value)
        let decoded = try #require(JobRecord(json: json, gid: 1001))
        #expect(decoded == record)
        #expect(decoded.json.serialized() == record.json.serialized())

        // A rejection: no policy, no run_as, never started, no tasks.
        let rejected = JobRecord(id: "x_y", name: "x_y", file: "x y.json", state: .rejected, policy: nil, uid: 0, gid: 0,
                                 user: nil, runAs: nil, receivedAt: t0, startedAt: nil, finishedAt: t0,
                                 error: "policy: must be one of collect-all, fail-fast, cancel-siblings", tasks: [])
        #expect(JobRecord(json: rejected.json, gid: 0) == rejected)

        // Members a newer daemon adds (SPEC §6 Slurm) are passed over.
        guard case .object(var members) = record.json else { Issue.record("not an object"); return }
        members += [("slurm_job", .string("4242"))]
        #expect(JobRecord(json: .object(members), gid: 1001) == record)

        // The hooks (SPEC §6, §11) read back as written; one this version cannot read is no record.
        var hooked = record
        hooked.hooks = [JobRecord.HookEntry(name: "on_end", outcome: .succeeded, exitStatus: 0, durationMS: 12),
                        JobRecord.HookEntry(name: "on_failure", outcome: .timedOut, exitStatus: nil, durationMS: 60_001)]
        #expect(JobRecord(json: hooked.json, gid: 1001) == hooked)
        #expect(hooked.json.serialized(pretty: false).contains(#""hooks":[{"name":"on_end","outcome":"succeeded","exit_status":0,"duration_ms":12}"#))
        #expect(JobRecord(json: .object(members + [("hooks", .array([.object([("name", .string("on_end"))])]))]), gid: 0) == nil)

        // What this version never wrote is not a record.
        func replacing(_ key: String, with value: JSONValue) -> JSONValue {
            .object(members.map { $0.key == key ? (key, value) : $0 })
        }
        #expect(JobRecord(json: replacing("state", with: .string("paused")), gid: 0) == nil)
        #expect(JobRecord(json: replacing("uid", with: .string("1000")), gid: 0) == nil)
        #expect(JobRecord(json: replacing("policy", with: .integer(1)), gid: 0) == nil)
        // Timestamp(text:) takes 30 February, but it would not print back as stored.
        #expect(JobRecord(json: replacing("finished_at", with: .string("2026-02-30T00:00:00.000Z")), gid: 0) == nil)
        #expect(JobRecord(json: replacing("tasks", with: .array([.object([("name", .string("x")), ("attempts", .integer(0))])])), gid: 0) == nil)
        #expect(JobRecord(json: .array([]), gid: 0) == nil)
    }

    @Test func usageIsWrittenWhereKnownAndReadBack() throws {
        let t0 = Timestamp(millisecondsSinceEpoch: 1_795_575_600_120)
        let record = JobRecord(id: "nb", name: "nb", file: "nb.json", state: .failed, policy: .collectAll,
                               uid: 1000, gid: 1000, user: "alice", runAs: "alice", receivedAt: t0, startedAt: t0,
                               finishedAt: t0, usage: CgroupUsage(cpuUsec: 2_500_000, memoryPeak: 13_107_200, tasksPeak: 7),
                               error: "CompoundError, 1 error [a: exited with status 1]",
                               tasks: [
                                   .init(name: "a", outcome: .failed, exitStatus: 1, attempts: 1, startedAt: t0, durationMS: 5,
                                         usage: CgroupUsage(cpuUsec: 1_234_000, memoryPeak: 4096, tasksPeak: 3), stderr: Array("x".utf8)),
                                   // No memory or pids controller: the CPU time only.
                                   .init(name: "b", outcome: .succeeded, exitStatus: 0, attempts: 1, startedAt: t0, durationMS: 5,
                                         usage: CgroupUsage(cpuUsec: 0)),
                                   .init(name: "c", outcome: .succeeded, exitStatus: 0, attempts: 1, startedAt: t0, durationMS: 5),
                                   .init(name: "d", outcome: .skipped, reason: "a did not succeed", attempts: 0,
                                         usage: CgroupUsage(cpuUsec: 1)),
                               ])
        let json = record.json
        guard case .object(let top) = json, case .array(let tasks)? = json["tasks"],
              case .object(let a) = tasks[0], case .object(let b) = tasks[1], case .object(let c) = tasks[2],
              case .object(let d) = tasks[3] else { Issue.record("shape"); return }
        #expect(top.map(\.key) == ["id", "run", "name", "file", "state", "policy", "uid", "user", "run_as", "received_at",
                                   "started_at", "finished_at", "cpu_usec", "memory_peak", "tasks_peak", "error", "tasks"])
        #expect(json["cpu_usec"] == .integer(2_500_000) && json["memory_peak"] == .integer(13_107_200) && json["tasks_peak"] == .integer(7))
        #expect(a.map(\.key) == ["name", "outcome", "exit_status", "signal", "attempts", "started_at", "duration_ms",
                                 "cpu_usec", "memory_peak", "tasks_peak", "stderr_tail"])
        #expect(tasks[0]["cpu_usec"] == .integer(1_234_000) && tasks[0]["memory_peak"] == .integer(4096) && tasks[0]["tasks_peak"] == .integer(3))
        #expect(b.map(\.key) == ["name", "outcome", "exit_status", "signal", "attempts", "started_at", "duration_ms",
                                 "cpu_usec", "stderr_tail"])
        #expect(tasks[1]["cpu_usec"] == .integer(0))
        #expect(!c.contains { $0.key.hasSuffix("_peak") || $0.key == "cpu_usec" })
        // A task that never ran has no usage to show.
        #expect(d.map(\.key) == ["name", "outcome", "reason", "attempts"])

        let text = try #require(StrictJSONReader.read(json.serializedBytes()).value)
        let decoded = try #require(JobRecord(json: text, gid: 1000))
        #expect(decoded.usage == record.usage)
        #expect(decoded.tasks.map(\.usage) == [record.tasks[0].usage, CgroupUsage(cpuUsec: 0), nil, nil])
        #expect(decoded.json.serialized() == json.serialized())

        // A usage value that is not a count is not a record this version wrote.
        guard case .object(let members) = json else { return }
        for bad: JSONValue in [.integer(-1), .string("12"), .number(1.5)] {
            #expect(JobRecord(json: .object(members.map { $0.key == "memory_peak" ? ($0.key, bad) : $0 }), gid: 0) == nil)
        }
        // A null one reads as absent.
        let nulled = JobRecord(json: .object(members.map { $0.key == "tasks_peak" ? ($0.key, .null) : $0 }), gid: 1000)
        #expect(nulled?.usage == CgroupUsage(cpuUsec: 2_500_000, memoryPeak: 13_107_200))
    }

    @Test func stderrTailCaps() {
        // The last 4 KiB, not starting inside a character.
        let text = String(repeating: "é", count: 3000)  // 6000 bytes
        let tail = StderrTailText.tail(Array(text.utf8), limit: 4096)
        #expect(tail.utf8.count <= 4096 && tail.utf8.count >= 4094 && tail.allSatisfy { $0 == "é" })
        // Invalid UTF-8 becomes U+FFFD and still fits.
        let bad = StderrTailText.tail([UInt8](repeating: 0xFF, count: 5000), limit: 4096)
        #expect(bad.utf8.count <= 4096 && bad.unicodeScalars.allSatisfy { $0 == "\u{FFFD}" })
        // 300 tails of 4 KiB exceed 1 MiB: each gets an equal share.
        let long: [UInt8] = [UInt8](repeating: 0x61, count: 8000)
        let many: [String] = StderrTailText.capped(Array(repeating: long, count: 300), each: 4096, total: 1 << 20)
        let share = (1 << 20) / 300
        #expect(many.allSatisfy { $0.utf8.count == share })
        let sum = many.reduce(0) { $0 + $1.utf8.count }
        #expect(sum <= 1 << 20)
        let few = StderrTailText.capped([Array("x".utf8), [], Array("yz".utf8)], each: 4096, total: 1 << 20)
        #expect(few == ["x", "", "yz"])
    }

    @Test func stderrTailCutOnlyWhereBytesWereDropped() {
        // Shorter than the limit: the whole stream, so a stray continuation byte is invalid UTF-8.
        #expect(StderrTailText.tail([0x80, 0x61], limit: 4096) == "\u{FFFD}a")
        // A full ring (the process keeps exactly 4 KiB) may start inside a character.
        #expect(StderrTailText.tail([0xA9] + Array(repeating: 0x61, count: 4095), limit: 4096) == String(repeating: "a", count: 4095))
    }

    @Test func retentionKeepsRecentRecordsAndCountsQueues() throws {
        let t = try TestSpool()
        t.drop("old.json", validJob)
        t.drop("new.json", validJob)
        for name in ["old.json", "new.json"] {
            guard case .claimed(let job) = try t.spool.claim(name) else { Issue.record("not claimed"); return }
            try t.spool.finish(succeededRecord(job))
        }
        // Make `old` two days old.
        let then = time(nil) - 2 * 86400
        var times: [timespec] = [timespec(tv_sec: then, tv_nsec: 0), timespec(tv_sec: then, tv_nsec: 0)]
        utimensat(AT_FDCWD, "\(t.path)/done/old", &times, AT_SYMLINK_NOFOLLOW)
        let removed = try t.spool.removeExpired(olderThan: .seconds(86400))
        #expect(removed == ["done/old"])
        #expect(t.records() == ["done/new"])
        t.drop("waiting.json", validJob)
        #expect(try t.spool.queuedCounts() == [getuid(): 1])
    }
}
