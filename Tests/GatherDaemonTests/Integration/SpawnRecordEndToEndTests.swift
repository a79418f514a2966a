import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension RobustnessEndToEnd {
    /// A process group is recorded before its process runs anything
    /// (docs/state-json.md, `state.log`): a `kill -9` during a storm of spawns
    /// leaves no process recovery cannot see, and the record tells the truth.
    @Suite("gatherd end to end: a crash between spawn and record", .serialized, .timeLimit(.minutes(3)))
    struct SpawnRecordEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        /// 200 one-task jobs, 64 at a time, and a `kill -9` while they start
        /// (before the change this left a task running about one trial in
        /// three, recorded `skipped`). After a restart and a stop, no task
        /// process is left, and a task recorded `skipped` never ran.
        @Test(arguments: 1...3)
        func killNineDuringASpawnStormLeavesNoOrphan(trial: Int) async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("spawnstorm\(trial)")
            // A duration no other process uses marks this trial's tasks in /proc.
            let marker = "29.\(getpid())\(trial)\(Int.random(in: 1000...9999))"
            defer { for pid in processes(withArgument: marker) { kill(pid, SIGKILL) } }
            let arguments = ["--max-jobs", "64", "--max-jobs-per-user", "64", "--kill-grace", "1s"]
            let job = Data(#"{"tasks": [{"name": "t", "command": ["sleep", "\#(marker)"]}]}"#.utf8)
            let ids = (0..<200).map { harness.id("j\($0)") }
            try await offPool { for id in ids { try job.write(to: URL(fileURLWithPath: "\(harness.spool)/incoming/.\(id).tmp")) } }

            let first = try harness.startNiced(arguments)
            for id in ids { try #require(rename("\(harness.spool)/incoming/.\(id).tmp", harness.incoming(id)) == 0) }
            await pause(.milliseconds(Int.random(in: 300...600)))
            first.kill(SIGKILL)
            #expect(await first.exitStatus(limit: .seconds(10)) != nil)
            let spawned = processes(withArgument: marker)
            // What was never claimed is taken back, so the restart runs nothing new.
            for name in harness.names(in: "incoming") { unlink("\(harness.spool)/incoming/\(name)") }

            let notify = try NotifyLog()
            defer { notify.stop() }
            let second = try harness.startNiced(arguments, notifySocket: notify.path)
            try #require(await notify.message("READY", limit: .seconds(30)) != nil)
            // Recovery has stopped the first daemon's tasks (one grace, 1 s):
            // none of them may still run.
            #expect(await eventually(limit: .seconds(10)) { spawned.allSatisfy(processIsGone) },
                    "left running after recovery: \(spawned.filter { !processIsGone($0) })")
            second.kill(SIGTERM)
            #expect(await second.exitStatus(limit: .seconds(20)) == 0)
            let left = processes(withArgument: marker)
            #expect(left.isEmpty, "tasks left running: \(left)")

            // Every claimed job has one record; a task that ran is never called skipped.
            var interrupted = 0
            for (id, areas) in harness.finishedJobs() {
                #expect(areas.count == 1, "\(id) recorded in \(areas)")
                let record = try harness.record(id)
                #expect(record.state == "interrupted", "\(id): \(record.state ?? "no state")")
                if record.outcome("t") != "skipped" { interrupted += 1 }
            }
            // What stays in active/ was claimed and never started: it runs at the next start.
            for id in harness.names(in: "active") {
                #expect(harness.stateFile(id)?["runs"] as? Int == 0, "\(id) stayed in active/ after a run started")
            }
            print("spawn storm trial \(trial): \(spawned.count) tasks running at the kill, \(interrupted) recorded cancelled")
            #expect(interrupted >= spawned.count, "\(spawned.count) tasks ran, only \(interrupted) recorded as having run")
        }
    }
}

/// Processes whose command line holds `argument`.
private func processes(withArgument argument: String) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { name -> pid_t? in
        // /proc files report size 0: read them as text, not by their size.
        guard let pid = pid_t(name),
              let text = try? String(contentsOfFile: "/proc/\(name)/cmdline", encoding: .utf8) else { return nil }
        return text.split(separator: "\0").contains { $0 == argument } ? pid : nil
    }
}
