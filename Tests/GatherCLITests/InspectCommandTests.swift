import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherctlEndToEnd {
    /// `status`, `show` and `logs` against the real gatherd and the real
    /// journald: what a user reads about running and finished jobs.
    @Suite("gatherctl against gatherd: status, show, logs", .serialized, .timeLimit(.minutes(3)))
    struct InspectCommandTests {
        init() throws {
            if TestJournald.canRun { try TestJournald.ensureRunning() }
        }

        @Test func statusShowsARunningJobAndJSONHasLivePIDs() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("status")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let done = harness.id("done")
            #expect(try await harness.ctl(["submit", "--wait", try harness.file("\(done).json", #"{"tasks": [{"name": "x", "command": ["false"]}]}"#)]).status == 1)
            let id = harness.id("busy")
            let job = """
                {"policy": "fail-fast", "max_parallel": 2, "tasks": [
                  {"name": "nap", "command": ["sleep", "60"]},
                  {"name": "quick", "command": ["true"]},
                  {"name": "bad", "command": ["sh", "-c", "sleep 0.3; exit 7"]},
                  {"name": "later", "command": ["true"], "after": ["nap"]}
                ]}
                """
            #expect(try await harness.ctl(["submit", try harness.file("\(id).json", job)]).status == 0)
            // Wait for the failing phase: nap still running, quick succeeded, bad failed.
            var line: Substring?
            let seen = await RunningCommand.waitUntil(limit: .seconds(20)) {
                guard let status = try? await harness.ctl(["status"]) else { return false }
                line = status.stdoutText.split(separator: "\n").first { $0.hasPrefix(id + " ") }
                return line?.contains("failing") == true
            }
            #expect(seen, "\(line ?? "no line")")
            let columns = (line ?? "").split(separator: " ")
            // ID STATE POLICY AGE RUNNING SUCCEEDED ERRORS TASKS
            #expect(columns.count == 8, "\(columns)")
            if columns.count == 8 {
                #expect(Array(columns[1...2]) == ["failing", "fail-fast"])
                #expect(Array(columns[4...7]) == ["1", "1", "1", "4"], "\(columns)")
            }
            let status = try await harness.ctl(["status"])
            #expect(status.stdoutText.contains("latest finished:"), "\(status.output)")
            #expect(status.stdoutText.split(separator: "\n").contains {
                $0.hasPrefix(done + " ") && $0.contains("failed") && $0.contains("CompoundError, 1 error [x: exited with status 1]")
            }, "\(status.output)")

            let json = try await harness.ctl(["status", "--json"])
            #expect(json.status == 0)
            let object = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
            let active = try #require(object["active"] as? [[String: Any]])
            let entry = try #require(active.first { $0["id"] as? String == id })
            let tasks = try #require(entry["tasks"] as? [[String: Any]])
            let nap = try #require(tasks.first { $0["name"] as? String == "nap" })
            let pid = try #require(nap["pid"] as? Int)
            // The PID is the real sleeper.
            let cmdline = try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
            #expect(cmdline.hasPrefix("sleep\u{0}60"), "\(cmdline)")
            let finished = try #require(object["finished"] as? [[String: Any]])
            #expect(finished.first?["id"] as? String == done)
            #expect(finished.first?["state"] as? String == "failed")

            // show while it runs: progress, no record yet.
            let show = try await harness.ctl(["show", id])
            #expect(show.status == 0)
            #expect(show.stdoutText.hasPrefix("job \(id), file \(id).json: failing, no record yet"), "\(show.output)")
            #expect(show.stdoutText.contains(try Regex("\n  nap +running +pid \(pid) +1 attempt\n")), "\(show.output)")
            #expect(try await harness.ctl(["cancel", id]).status == 0)
        }

        @Test func aJobWaitingForASlotIsQueuedAndCancelsBeforeItStarts() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("queued")
            let daemon = try await harness.startDaemon(["--max-jobs", "1"])
            defer { daemon.stop() }
            let (first, second) = (harness.id("first"), harness.id("second"))
            let sleeper = #"{"policy": "fail-fast", "tasks": [{"name": "nap", "command": ["sleep", "60"]}]}"#
            #expect(try await harness.ctl(["submit", try harness.file("\(first).json", sleeper)]).status == 0)
            #expect(await RunningCommand.waitUntil { harness.area(of: first) == "active" })
            #expect(try await harness.ctl(["submit", try harness.file("\(second).json", sleeper)]).status == 0)
            var rows: [[Substring]] = []
            let both = await RunningCommand.waitUntil {
                guard let status = try? await harness.ctl(["status"]) else { return false }
                rows = status.stdoutText.split(separator: "\n").map { $0.split(separator: " ") }
                return rows.contains { $0.first.map(String.init) == second }
                    && rows.contains { $0.first.map(String.init) == first && $0.count > 1 && $0[1] == "running" }
            }
            #expect(both, "\(rows)")
            #expect(rows.first { $0.first.map(String.init) == first }?[1] == "running", "\(rows)")
            let queued = rows.first { $0.first.map(String.init) == second }
            #expect(queued.map { Array($0[1...2]) + Array($0[4...]) } == ["queued", "fail-fast", "0", "0", "0", "1"], "\(rows)")
            let cancel = try await harness.ctl(["cancel", "--wait", second])
            #expect(cancel.status == 3, "\(cancel.output)")
            let show = try await harness.ctl(["show", second])
            #expect(show.stdoutText.contains(try Regex("\n  nap +skipped +0 attempts +cancelled by request\n")), "\(show.output)")
            #expect(try await harness.ctl(["cancel", first]).status == 0)
        }

        @Test func showPrintsTheRecordReadableAndAsStored() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("show")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let id = harness.id("mixed")
            let job = """
                {"name": "mixed bag", "policy": "cancel-siblings", "on_failure": ["sh", "-c", "exit 2"], "tasks": [
                  {"name": "dump", "command": ["sh", "-c", "echo first >&2; echo 'connection refused' >&2; exit 1"]},
                  {"name": "sync", "command": ["sleep", "60"]},
                  {"name": "prune", "command": ["true"], "after": ["dump"]}
                ]}
                """
            #expect(try await harness.ctl(["submit", "--wait", try harness.file("\(id).json", job)]).status == 1)
            // The hook's run joins the record once it ended.
            var show = try await harness.ctl(["show", id])
            _ = await RunningCommand.waitUntil(limit: .seconds(20)) {
                show = (try? await harness.ctl(["show", id])) ?? show
                return show.stdoutText.contains("hooks:")
            }
            #expect(show.status == 0, "\(show.output)")
            let lines = show.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first == "job \(id) (mixed bag), file \(id).json")
            if let index = lines.firstIndex(of: "hooks:"), index + 1 < lines.count {
                let hook = lines[index + 1].split(separator: " ")
                #expect(Array(hook.prefix(4)) == ["on_failure", "failed", "exit", "2"], "\(lines)")
            } else {
                Issue.record("no hooks in \(lines)")
            }
            #expect(lines.contains("  state:     failed"))
            #expect(lines.contains("  policy:    cancel-siblings"))
            #expect(lines.contains("  error:     CompoundError, 1 error [dump: exited with status 1] (1 cancelled, 1 skipped)"), "\(lines)")
            #expect(lines.contains { $0.hasPrefix("  dump ") && $0.contains("failed") && $0.contains("exit 1") && $0.contains("1 attempt") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("  sync ") && $0.contains("cancelled") && $0.contains("SIGTERM") && $0.hasSuffix("dump failed") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("  prune ") && $0.contains("skipped") && $0.hasSuffix("dump did not succeed") }, "\(lines)")
            // The stderr tail, indented under its task (after its usage, where gatherd has cgroups).
            if var index = lines.firstIndex(where: { $0.hasPrefix("  dump ") }), index + 3 < lines.count {
                if lines[index + 1].hasPrefix("    usage: cpu ") { index += 1 }
                #expect(Array(lines[(index + 1)...(index + 3)]) == ["    stderr:", "      first", "      connection refused"])
            } else {
                Issue.record("no dump line in \(lines)")
            }

            let json = try await harness.ctl(["show", "--json", id])
            #expect(json.status == 0)
            let stored = try Data(contentsOf: URL(fileURLWithPath: "\(harness.spool)/failed/\(id)/result.json"))
            let trimmed = stored.last == UInt8(ascii: "\n") ? stored.dropLast() : stored[...]
            #expect(json.stdout == Data(trimmed) + Data("\n".utf8))

            let missing = try await harness.ctl(["show", harness.id("never")])
            #expect(missing.status == 1)
            #expect(missing.stderrText.contains("no job \(harness.id("never"))"), "\(missing.output)")
        }

        @Test func showPrintsTheCgroupUsageOfTheJobAndEachTask() async throws {
            // A record as a gatherd with cgroups writes it, planted: no daemon needed.
            let harness = try CtlHarness("usage")
            let id = harness.id("used")
            let record = """
                {
                  "id": "\(id)", "run": "\(String(repeating: "0f", count: 16))", "name": "\(id)", "file": "\(id).json",
                  "state": "failed", "policy": "collect-all", "uid": \(getuid()), "user": null, "run_as": null,
                  "received_at": "2026-11-25T03:00:00.120Z", "started_at": "2026-11-25T03:00:00.200Z",
                  "finished_at": "2026-11-25T03:00:04.400Z",
                  "cpu_usec": 2500400, "memory_peak": 13107200, "tasks_peak": 7,
                  "error": "CompoundError, 1 error [big: killed by the OOM killer (memory_max 512M)]",
                  "tasks": [
                    {"name": "big", "outcome": "killed", "exit_status": null, "signal": "SIGKILL", "attempts": 1,
                     "started_at": "2026-11-25T03:00:00.200Z", "duration_ms": 4100,
                     "cpu_usec": 1234499, "memory_peak": 536870912, "tasks_peak": 3, "stderr_tail": "oom\\n"},
                    {"name": "small", "outcome": "succeeded", "exit_status": 0, "signal": null, "attempts": 1,
                     "started_at": "2026-11-25T03:00:00.200Z", "duration_ms": 12, "cpu_usec": 900, "memory_peak": 1023,
                     "stderr_tail": ""},
                    {"name": "cpu-only", "outcome": "succeeded", "exit_status": 0, "signal": null, "attempts": 1,
                     "started_at": "2026-11-25T03:00:00.200Z", "duration_ms": 12, "cpu_usec": 0, "stderr_tail": ""},
                    {"name": "plain", "outcome": "succeeded", "exit_status": 0, "signal": null, "attempts": 1,
                     "started_at": "2026-11-25T03:00:00.200Z", "duration_ms": 12, "slurm_job": 77, "stderr_tail": ""}
                  ],
                  "hooks": []
                }

                """
            let directory = "\(harness.spool)/failed/\(id)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(record.utf8).write(to: URL(fileURLWithPath: "\(directory)/result.json"))

            let show = try await harness.ctl(["show", id])
            #expect(show.status == 0, "\(show.output)")
            let lines = show.stdoutText.split(separator: "\n").map(String.init)
            #expect(lines.contains("  usage:     cpu 2.500s, memory peak 12.5M, tasks peak 7"), "\(lines)")
            let tasks = try #require(lines.firstIndex(of: "tasks:"), "\(lines)")
            // Each task's row, then its usage where it has any (stderr lines left out).
            let shown: [String] = lines[(tasks + 1)...].compactMap { line in
                if line.hasPrefix("    usage: ") { return line }
                return line.hasPrefix("    ") ? nil : String(line.split(separator: " ")[0])
            }
            let expected: [String] = [
                "big", "    usage: cpu 1.234s, memory peak 512M, tasks peak 3",
                "small", "    usage: cpu 0.001s, memory peak 1023B",
                "cpu-only", "    usage: cpu 0.000s",
                "plain",
            ]
            #expect(shown == expected, "\(lines)")
            // An executor: slurm task's Slurm job ID (SPEC §6 slurm_job) follows its row.
            let plain = try #require(lines.firstIndex { $0.hasPrefix("  plain ") })
            #expect(lines[plain + 1] == "    slurm job: 77", "\(lines)")
            // The usage line comes before the stderr tail.
            let big = try #require(lines.firstIndex { $0.hasPrefix("  big ") })
            #expect(Array(lines[(big + 1)...(big + 3)]) == ["    usage: cpu 1.234s, memory peak 512M, tasks peak 3",
                                                            "    stderr:", "      oom"])

            // --json is the stored record, the usage fields (and what this version does not know) included.
            let json = try await harness.ctl(["show", "--json", id])
            #expect(json.status == 0, "\(json.output)")
            #expect(json.stdoutText == record)
            let parsed = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
            #expect(parsed["memory_peak"] as? Int == 13_107_200)
            #expect((parsed["tasks"] as? [[String: Any]])?.first?["cpu_usec"] as? Int == 1_234_499)
        }

        @Test func logsReadsTheJobsEntriesBackFromTheJournal() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("logs")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let id = harness.id("talk")
            let job = #"{"tasks": [{"name": "speaker", "command": ["sh", "-c", "echo hello-out; echo hello-err >&2; exit 4"]}]}"#
            #expect(try await harness.ctl(["submit", "--wait", try harness.file("\(id).json", job)]).status == 1)
            // The daemon's writer thread may still be sending: read until the compound error is there.
            var logs = try await harness.ctl(["logs", id])
            _ = await RunningCommand.waitUntil(limit: .seconds(10)) {
                logs = (try? await harness.ctl(["logs", id])) ?? logs
                return logs.stdoutText.contains("CompoundError")
            }
            #expect(logs.status == 0, "\(logs.output)")
            let lines = logs.stdoutText.split(separator: "\n").map(String.init)
            let time = #/[A-Z][a-z]{2} [ 0-9]{2} \d{2}:\d{2}:\d{2} /#
            #expect(lines.allSatisfy { $0.prefixMatch(of: time) != nil }, "\(lines)")
            #expect(lines.contains { $0.contains(" gatherd: job \(id) started: 1 task") }, "\(lines)")
            #expect(lines.contains { $0.hasSuffix(" speaker/stdout: hello-out") }, "\(lines)")
            #expect(lines.contains { $0.hasSuffix(" speaker/stderr: hello-err") }, "\(lines)")
            #expect(lines.contains { $0.hasSuffix(" gatherd: job \(id) failed: CompoundError, 1 error [speaker: exited with status 4]") }, "\(lines)")
            // The same entries journalctl returns for the match, no more, no fewer.
            let readBack = try await Blocking.run { try TestJournald.readBack(match: ["GATHER_JOB=\(id)"]) }
            #expect(lines.count == readBack.count, "\(lines)")

            let json = try await harness.ctl(["logs", "--json", id])
            let objects = try json.stdout.split(separator: UInt8(ascii: "\n")).map {
                try #require(try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
            }
            #expect(objects.count == lines.count)
            #expect(objects.allSatisfy { $0["GATHER_JOB"] as? String == id })
            let compound = try #require(objects.first { $0["MESSAGE_ID"] as? String == "2567adab07a549029b2ad935f355fc66" })
            #expect(compound["GATHER_FAILURE"] as? String == "speaker: exited with status 4")
        }

        @Test func logsFollowPrintsEntriesAsTheyArrive() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("follow")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let id = harness.id("ticker")
            // The job is in the spool before the follower starts (an unknown job is an
            // error) and prints only after a pause: its lines arrive while it follows.
            let job = #"{"tasks": [{"name": "tick", "command": ["sh", "-c", "sleep 1; echo tick-1; sleep 0.5; echo tick-2"]}]}"#
            #expect(try await harness.ctl(["submit", try harness.file("\(id).json", job)]).status == 0)
            let follow = try harness.startCtl(["logs", "--follow", id])
            defer { follow.stop() }
            let both = await RunningCommand.waitUntil(limit: .seconds(15)) {
                follow.stdout.contains("tick/stdout: tick-1") && follow.stdout.contains("tick/stdout: tick-2")
            }
            #expect(both, "\(follow.stdout)\(follow.stderr)")
            #expect(follow.process.isRunning)  // still following
            kill(follow.process.processIdentifier, SIGTERM)
            #expect(await follow.wait(limit: .seconds(10)) == 0, "\(follow.stderr)")
        }

        @Test func logsOfAWaitingJobWithNoEntriesPrintsNothing() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("logs-none")
            let id = harness.id("silent")
            #expect(try await harness.ctl(["submit", try harness.file("\(id).json", #"{"tasks": [{"name": "t", "command": ["true"]}]}"#)]).status == 0)
            let result = try await harness.ctl(["logs", id])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.stdout.isEmpty)
        }
    }
}
