import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The one-node Slurm cluster on localhost that `scripts/setup-slurm.sh` sets up.
enum LocalSlurm {
    /// Why the Slurm tests cannot run here, or nil when they can.
    static let unavailable: String? = {
        if getuid() != 0 { return "Slurm tests need root (uid \(getuid()))" }
        guard let found = try? Run.command(["sh", "-c", "command -v srun && command -v sinfo"]), found.status == 0 else {
            return "no srun or sinfo in PATH (scripts/setup-slurm.sh sets up a one-node cluster)"
        }
        guard let result = try? Run.command(["sinfo", "-h", "-o", "%t"]), result.status == 0 else {
            let said = (try? Run.command(["sinfo", "-h", "-o", "%t"]).stderrText) ?? ""
            return "sinfo fails (\(said.split(separator: "\n").first ?? "no message")): run scripts/setup-slurm.sh"
        }
        let states = result.stdoutText.split(separator: "\n").map(String.init)
        guard states.contains(where: { $0.hasPrefix("idle") || $0.hasPrefix("mix") || $0.hasPrefix("alloc") }) else {
            return "sinfo shows no idle node (\(states.joined(separator: ", "))): run scripts/setup-slurm.sh"
        }
        return nil
    }()

    /// True when the cluster answers; else prints why the test skips.
    static var canRun: Bool {
        guard TestJournald.canRun else { return false }
        if let unavailable {
            print("skipped: \(unavailable)")
            return false
        }
        return true
    }

    /// Which of `ids` Slurm still has pending, running, suspended or
    /// completing. An `squeue` that fails fails the test (and every ID
    /// counts as live, so no wait for "gone" ends on it).
    static func live(_ ids: [Int], sourceLocation: SourceLocation = #_sourceLocation) -> [Int] {
        guard !ids.isEmpty else { return [] }
        let argv = ["squeue", "--noheader", "--states=PD,R,S,CG,CF", "--format=%i", "--jobs=" + ids.map(String.init).joined(separator: ",")]
        let result: Run.Result
        do {
            result = try Run.command(argv)
        } catch {
            Issue.record("cannot run squeue: \(error)", sourceLocation: sourceLocation)
            return ids
        }
        guard result.status == 0 else {
            Issue.record("squeue failed (\(result.status)): \(result.stderrText)", sourceLocation: sourceLocation)
            return ids
        }
        return result.stdoutText.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// The pid of each running task of job `id` (state.json): for a Slurm
    /// task its `srun`, which leads its own process group.
    static func taskPIDs(_ harness: DaemonHarness, _ id: String) -> [String: Int32] {
        let tasks = currentState(spool: harness.spool, id: id)?["tasks"] as? [[String: Any]] ?? []
        var pids: [String: Int32] = [:]
        for task in tasks {
            if let name = task["name"] as? String, let pid = task["pid"] as? Int { pids[name] = Int32(pid) }
        }
        return pids
    }

    /// After a test (also one that failed while its daemon ran): cancels the
    /// Slurm jobs of this harness's job IDs that are still there, so a failed
    /// test leaves nothing running on the cluster.
    static func cancelLeftovers(_ harness: DaemonHarness) {
        guard let result = try? Run.command(["squeue", "--noheader", "--format=%i %j"]) else { return }
        let ids = result.stdoutText.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ")
            guard parts.count == 2, parts[1].hasPrefix("gatherd/\(harness.prefix)-") else { return nil }
            return String(parts[0])
        }
        if !ids.isEmpty { _ = try? Run.command(["scancel"] + ids) }
    }

    /// A directory of stand-in Slurm tools for the tests that need no
    /// cluster: `srun`, `squeue` and `scancel` fail, `scontrol` runs `scontrol`.
    static func standInTools(_ harness: DaemonHarness, scontrol: String) throws -> String {
        let bin = try harness.scratch()
        for tool in ["srun", "squeue", "scancel"] {
            try Executable.write("#!/bin/sh\nexit 1\n", to: "\(bin)/\(tool)")
        }
        try Executable.write("#!/bin/sh\n\(scontrol)\n", to: "\(bin)/scontrol")
        return bin
    }

    /// The Slurm jobs Slurm still has pending or running under these job names.
    static func named(_ names: [String]) -> [Int] {
        let argv = ["squeue", "--noheader", "--states=PD,R", "--format=%i", "--name=" + names.joined(separator: ",")]
        guard let result = try? Run.command(argv), result.status == 0 else { return [] }
        return result.stdoutText.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// `scontrol show job ID` as text.
    static func show(_ id: Int) -> String {
        (try? Run.command(["scontrol", "show", "job", String(id)]).stdoutText) ?? ""
    }

    /// Waits (up to 20 s) until gatherd learned the Slurm job IDs of `tasks`
    /// tasks of job `id`, and returns them; fails the test otherwise.
    static func waitForLearned(
        _ harness: DaemonHarness, _ id: String, tasks: Int, daemon: RunningDaemon,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [String: [Int]] {
        var learned: [String: [Int]] = [:]
        let seen = await RunningDaemon.waitUntil(limit: .seconds(20)) {
            learned = Self.learned(harness, id)
            return learned.count == tasks
        }
        try #require(seen, "slurm job IDs not learned: \(learned)\n\(daemon.stderr)", sourceLocation: sourceLocation)
        return learned
    }

    /// The Slurm job IDs gatherd learned for job `id` so far (state.json's `slurm_jobs`), task → IDs.
    static func learned(_ harness: DaemonHarness, _ id: String) -> [String: [Int]] {
        let jobs = currentState(spool: harness.spool, id: id)?["slurm_jobs"] as? [[String: Any]] ?? []
        var byTask: [String: [Int]] = [:]
        for job in jobs {
            if let task = job["task"] as? String, let slurmJob = job["slurm_job"] as? Int { byTask[task, default: []].append(slurmJob) }
        }
        return byTask
    }
}

extension GatherdEndToEnd {
    /// `executor: slurm` against a real one-node cluster (SPEC §12): tasks are
    /// Slurm job steps started through `srun`, the rest is gatherd's as for
    /// local tasks. Each test skips, saying why, without root or a cluster.
    @Suite("gatherd end to end: slurm executor", .serialized, .timeLimit(.minutes(3)))
    struct SlurmEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        /// A collect-all job: the tasks are Slurm jobs while they run (named
        /// `gatherd/ID/TASK`), the failing one is in the compound error with its
        /// status and its Slurm job ID is in the record and the journal, and
        /// output lines are tagged like a local task's.
        @Test func collectAllRunsTasksAsSlurmJobs() async throws {
            guard LocalSlurm.canRun else { return }
            let harness = try DaemonHarness("slurm-collect")
            let id = try harness.drop(harness.id("collect"), """
                {"executor": "slurm", "cwd": "/tmp", "tasks": [
                  {"name": "a", "command": ["sh", "-c", "echo step $SLURM_JOB_ID of $GATHER_JOB; sleep 3"]},
                  {"name": "b", "command": ["sh", "-c", "sleep 3; exit 3"]},
                  {"name": "c", "command": ["sleep", "3"], "slurm": {"cpus_per_task": 1, "mem": "64M", "time_min": "1m"}}
                ]}
                """)
            let daemon = try harness.start(["--exit-when-idle"])
            defer { daemon.kill(SIGKILL); LocalSlurm.cancelLeftovers(harness) }
            let learned = try await LocalSlurm.waitForLearned(harness, id, tasks: 3, daemon: daemon)
            // While they run, Slurm has them, under gatherd's names.
            for (task, ids) in learned {
                let shown = LocalSlurm.show(try #require(ids.first))
                #expect(shown.contains("JobName=gatherd/\(id)/\(task)"), "\(shown)")
                #expect(shown.contains("UserId=root(0)"), "\(shown)")
            }
            #expect(LocalSlurm.live(learned.values.flatMap { $0 }).count == 3)
            // gatherctl show names each running task's Slurm job.
            let show = try Run.command([Run.buildProductsDirectory + "/gatherctl", "--spool", harness.spool, "show", id])
            for (task, ids) in learned {
                #expect(show.stdoutText.contains(try Regex("\n  \(task) +running +pid [0-9]+ +1 attempt +slurm job \(ids[0])\n")),
                        "\(show.output)")
            }
            #expect(await daemon.wait(limit: .seconds(30)) == 0)

            let record = try harness.record(id)
            #expect(record.state == "failed")
            #expect(record.error == "CompoundError, 1 error [b: exited with status 3]")
            for task in ["a", "b", "c"] {
                #expect(record.task(task)?["slurm_job"] as? Int == learned[task]?.first, "task \(task)")
            }
            #expect(record.outcome("a") == "succeeded" && record.outcome("c") == "succeeded")
            let entries = try harness.journal(id)
            let error = try #require(entries.first { $0["MESSAGE_ID"] == "e7c98ccc13c5485c9b53ae2da4518752" })
            #expect(error["GATHER_TASK"] == "b" && error["GATHER_EXIT_STATUS"] == "3")
            #expect(error["GATHER_SLURM_JOB"] == learned["b"]?.first.map(String.init))
            let compound = try #require(entries.first { $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66" })
            #expect(compound["GATHER_FAILURE"] == "b: exited with status 3")
            // The step's output line: the task's words, tagged ID/TASK, with the Slurm job ID it ran as.
            let line = try #require(entries.first { $0["GATHER_TASK"] == "a" && $0["GATHER_STREAM"] == "stdout" })
            #expect(line["SYSLOG_IDENTIFIER"] == "\(id)/a")
            #expect(line["MESSAGE"] == "step \(learned["a"]?.first ?? -1) of \(id)")
            #expect(line["GATHER_ATTEMPT"] == "1")
            #expect(line["SYSLOG_PID"] != nil)
        }

        /// cancel-siblings: the failing task stops three `sleep 300` siblings
        /// (one ignores SIGTERM); within the grace plus 2 s Slurm has none of
        /// the job's Slurm jobs left.
        @Test func cancelSiblingsLeavesNoSlurmJob() async throws {
            guard LocalSlurm.canRun else { return }
            let harness = try DaemonHarness("slurm-cancel")
            let id = try harness.drop(harness.id("siblings"), """
                {"executor": "slurm", "policy": "cancel-siblings", "kill_grace": "2s", "cwd": "/tmp", "tasks": [
                  {"name": "s1", "command": ["sleep", "300"]},
                  {"name": "s2", "command": ["sleep", "300"]},
                  {"name": "s3", "command": ["sh", "-c", "trap '' TERM; sleep 300"]},
                  {"name": "bad", "command": ["sh", "-c", "sleep 2; exit 5"]}
                ]}
                """)
            let daemon = try harness.start(["--exit-when-idle"])
            defer { daemon.kill(SIGKILL); LocalSlurm.cancelLeftovers(harness) }
            let learned = try await LocalSlurm.waitForLearned(harness, id, tasks: 4, daemon: daemon)
            let ids = learned.values.flatMap { $0 }
            // The failing task's end starts the stops.
            let failing = await RunningDaemon.waitUntil(limit: .seconds(20)) {
                (currentState(spool: harness.spool, id: id)?["state"] as? String) == "failing" || harness.area(of: id) == "failed"
            }
            try #require(failing, "job never failing: \(harness.listing())")
            let stopsBegan = ContinuousClock.now
            let gone = await RunningDaemon.waitUntil(limit: .seconds(4)) { LocalSlurm.live(ids).isEmpty }
            #expect(gone, "Slurm jobs left \(stopsBegan.duration(to: .now)) after the failure: \(LocalSlurm.live(ids))")
            #expect(await daemon.wait(limit: .seconds(20)) == 0)
            let record = try harness.record(id)
            #expect(record.error == "CompoundError, 1 error [bad: exited with status 5] (3 cancelled)")
            for task in ["s1", "s2", "s3"] {
                #expect(record.outcome(task) == "cancelled" && record.reason(task) == "bad failed", "task \(task)")
            }
        }

        /// A task's timeout is gatherd's: the step is stopped, the task is
        /// `timed-out`, and its Slurm job is gone.
        @Test func taskTimeoutStopsTheSlurmJob() async throws {
            guard LocalSlurm.canRun else { return }
            let harness = try DaemonHarness("slurm-timeout")
            let id = try harness.drop(harness.id("timeout"), """
                {"executor": "slurm", "kill_grace": "1s", "cwd": "/tmp", "tasks": [
                  {"name": "slow", "command": ["sleep", "300"], "timeout": "2s"}
                ]}
                """)
            let began = ContinuousClock.now
            try await harness.runUntilIdle(limit: .seconds(30))
            #expect(began.duration(to: .now) < .seconds(15))
            let record = try harness.record(id)
            #expect(record.error == "CompoundError, 1 error [slow: timed out after 2s]")
            #expect(record.outcome("slow") == "timed-out")
            let slurmJob = try #require(record.task("slow")?["slurm_job"] as? Int)
            let gone = await RunningDaemon.waitUntil(limit: .seconds(3)) { LocalSlurm.live([slurmJob]).isEmpty }
            #expect(gone, "Slurm job \(slurmJob) of a timed-out task still there")
        }

        /// A retried task: each attempt is a Slurm job of its own; the retry
        /// entry names the first, the record the last.
        @Test func retriedTaskRunsEachAttemptAsItsOwnSlurmJob() async throws {
            guard LocalSlurm.canRun else { return }
            let harness = try DaemonHarness("slurm-retry")
            let mark = try harness.scratch() + "/tried"
            let id = try harness.drop(harness.id("retry"), """
                {"executor": "slurm", "cwd": "/tmp", "tasks": [
                  {"name": "flaky", "retries": 2, "retry_delay": "100ms",
                   "command": ["sh", "-c", "if [ -e \(mark) ]; then exit 0; fi; : > \(mark); exit 4"]}
                ]}
                """)
            try await harness.runUntilIdle(limit: .seconds(30))
            let record = try harness.record(id)
            #expect(record.state == "succeeded")
            #expect(record.task("flaky")?["attempts"] as? Int == 2)
            let last = try #require(record.task("flaky")?["slurm_job"] as? Int)
            let retry = try #require(try harness.journal(id).first { $0["MESSAGE_ID"] == "4bb6b2a0cdd34b54a19c326b2592c21d" })
            #expect(retry["MESSAGE"] == "job \(id): flaky: exited with status 4; retry 1 of 2 in 100ms")
            let first = try #require(retry["GATHER_SLURM_JOB"].flatMap { Int($0) })
            #expect(first != last)
            #expect(LocalSlurm.show(last).contains("JobName=gatherd/\(id)/flaky"))
        }

        /// A task run as a non-root user is that user in Slurm.
        @Test func nonRootTaskIsThatUserInSlurm() async throws {
            guard LocalSlurm.canRun else { return }
            let harness = try DaemonHarness("slurm-user")
            let id = try harness.drop(harness.id("nobody"), """
                {"executor": "slurm", "cwd": "/tmp", "tasks": [{"name": "who", "command": ["sh", "-c", "id -un; sleep 2"]}]}
                """, owner: DaemonHarness.nobody)
            let daemon = try harness.start(["--exit-when-idle"])
            defer { daemon.kill(SIGKILL); LocalSlurm.cancelLeftovers(harness) }
            var learned: [String: [Int]] = [:]
            let seen = await RunningDaemon.waitUntil(limit: .seconds(20)) {
                learned = LocalSlurm.learned(harness, id)
                return !learned.isEmpty
            }
            try #require(seen, "no slurm job learned\n\(daemon.stderr)")
            let shown = LocalSlurm.show(try #require(learned["who"]?.first))
            #expect(shown.contains("UserId=nobody(65534)"), "\(shown)")
            #expect(await daemon.wait(limit: .seconds(30)) == 0)
            let record = try harness.record(id)
            #expect(record.state == "succeeded", "\(record.object)")
            #expect(record.object["run_as"] as? String == "nobody")
            let line = try harness.journal(id).first { $0["GATHER_TASK"] == "who" && $0["GATHER_STREAM"] == "stdout" }
            #expect(line?["MESSAGE"] == "nobody")
        }

        /// `kill -9` of gatherd while Slurm tasks run, then a restart: the
        /// crashed run's Slurm jobs are cancelled by their IDs and the job is
        /// recorded `interrupted`, with the Slurm job IDs.
        @Test func crashThenRestartCancelsTheSlurmJobs() async throws {
            guard LocalSlurm.canRun else { return }
            let harness = try DaemonHarness("slurm-crash")
            let daemon = try harness.start()
            defer { daemon.kill(SIGKILL); LocalSlurm.cancelLeftovers(harness) }
            let id = try harness.drop(harness.id("crash"), """
                {"executor": "slurm", "kill_grace": "1s", "cwd": "/tmp", "tasks": [
                  {"name": "a", "command": ["sleep", "300"]},
                  {"name": "b", "command": ["sleep", "300"]}
                ]}
                """)
            let learned = try await LocalSlurm.waitForLearned(harness, id, tasks: 2, daemon: daemon)
            let ids = learned.values.flatMap { $0 }
            let pids = LocalSlurm.taskPIDs(harness, id)
            try #require(pids.count == 2, "no srun pids in state.json: \(pids)")
            daemon.kill(SIGKILL)
            #expect(await daemon.wait(limit: .seconds(10)) != nil)
            // As systemd does at the unit's end (KillMode=mixed): SIGKILL to
            // what is left, here each srun's process group (srun and its
            // helper child), so no srun can end its step on its own.
            for pid in pids.values { kill(-pid, SIGKILL) }
            try await Task.sleep(for: .seconds(3))
            // The crashed daemon's jobs are still running in Slurm: only the
            // recovery's scancel by ID can end them.
            #expect(LocalSlurm.live(ids).count == 2, "\(LocalSlurm.live(ids)) of \(ids)")

            let restarted = ContinuousClock.now
            let second = try await harness.runUntilIdle(limit: .seconds(30))
            // A cancelled job is `COMPLETING` until slurmd has ended its step.
            let gone = await RunningDaemon.waitUntil(limit: .seconds(10)) { LocalSlurm.live(ids).isEmpty }
            #expect(gone, "left: \(LocalSlurm.live(ids))\n\(second.stderr)")
            print("slurm: crashed run's jobs gone \(restarted.duration(to: .now)) after the restart")
            let record = try harness.record(id)
            #expect(record.state == "interrupted")
            for task in ["a", "b"] {
                #expect(record.outcome(task) == "cancelled" && record.reason(task) == "daemon restarted")
                #expect(record.task(task)?["slurm_job"] as? Int == learned[task]?.first)
            }
        }

        /// A crash before the run learned its attempts' Slurm job IDs (an
        /// attempt's first moments; here the daemon is told to learn none),
        /// under `KillMode=mixed` (the sruns SIGKILLed too): the restart finds
        /// the jobs by the crashed run's comment and cancels them.
        @Test func crashBeforeTheIDsWereLearnedStillLeavesNoSlurmJob() async throws {
            guard LocalSlurm.canRun else { return }
            let harness = try DaemonHarness("slurm-unlearned")
            let daemon = try harness.start(extraEnvironment: ["GATHERD_TEST_SLURM_UNLEARNED": "1"])
            defer { daemon.kill(SIGKILL); LocalSlurm.cancelLeftovers(harness) }
            let id = try harness.drop(harness.id("early"), """
                {"executor": "slurm", "kill_grace": "1s", "cwd": "/tmp", "tasks": [
                  {"name": "a", "command": ["sleep", "300"]},
                  {"name": "b", "command": ["sleep", "300"]}
                ]}
                """)
            // The test finds them by name; gatherd has not learned them.
            var ids: [Int] = []
            let seen = await RunningDaemon.waitUntil(limit: .seconds(20)) {
                ids = LocalSlurm.named(["gatherd/\(id)/a", "gatherd/\(id)/b"])
                return ids.count == 2 && LocalSlurm.taskPIDs(harness, id).count == 2
            }
            try #require(seen, "the Slurm jobs never appeared: \(ids)\n\(daemon.stderr)")
            #expect(LocalSlurm.learned(harness, id).isEmpty)
            let pids = LocalSlurm.taskPIDs(harness, id)
            daemon.kill(SIGKILL)
            #expect(await daemon.wait(limit: .seconds(10)) != nil)
            for pid in pids.values { kill(-pid, SIGKILL) }
            try await Task.sleep(for: .seconds(3))
            #expect(LocalSlurm.live(ids).count == 2, "\(LocalSlurm.live(ids)) of \(ids)")

            let second = try await harness.runUntilIdle(limit: .seconds(30))
            let gone = await RunningDaemon.waitUntil(limit: .seconds(10)) { LocalSlurm.live(ids).isEmpty }
            #expect(gone, "left: \(LocalSlurm.live(ids))\n\(second.stderr)")
            #expect(try harness.record(id).state == "interrupted")
        }

        /// An `srun` killed from outside (here its process group SIGKILLed,
        /// as the OOM killer of a cgroup or an administrator's `kill -9`
        /// would): the task is `killed`, and gatherd cancels its Slurm job,
        /// which would otherwise run on without its `srun`.
        @Test func srunKilledFromOutsideLeavesNoSlurmJob() async throws {
            guard LocalSlurm.canRun else { return }
            let harness = try DaemonHarness("slurm-killed")
            let id = try harness.drop(harness.id("killed"), """
                {"executor": "slurm", "kill_grace": "1s", "cwd": "/tmp", "tasks": [
                  {"name": "victim", "command": ["sleep", "300"]}
                ]}
                """)
            let daemon = try harness.start(["--exit-when-idle"])
            defer { daemon.kill(SIGKILL); LocalSlurm.cancelLeftovers(harness) }
            var learned: [String: [Int]] = [:]
            var pids: [String: Int32] = [:]
            let seen = await RunningDaemon.waitUntil(limit: .seconds(20)) {
                learned = LocalSlurm.learned(harness, id)
                pids = LocalSlurm.taskPIDs(harness, id)
                return learned["victim"] != nil && pids["victim"] != nil
            }
            try #require(seen, "slurm job ID or srun pid not known: \(learned) \(pids)\n\(daemon.stderr)")
            let slurmJob = try #require(learned["victim"]?.first)
            let srun = try #require(pids["victim"])
            // The whole group: SIGKILL of the first srun alone lets its helper
            // child cancel the job (Slurm 22.05).
            #expect(kill(-srun, SIGKILL) == 0)
            let killedAt = ContinuousClock.now
            #expect(await daemon.wait(limit: .seconds(30)) == 0, "\(daemon.stderr)")
            let record = try harness.record(id)
            #expect(record.outcome("victim") == "killed", "\(record.object)")
            #expect(record.task("victim")?["signal"] as? String == "SIGKILL")
            #expect(record.task("victim")?["slurm_job"] as? Int == slurmJob)
            // A cancelled job is COMPLETING until slurmd has ended its step
            // (KillWait 5 s on the test cluster); without the scancel it stays RUNNING.
            let gone = await RunningDaemon.waitUntil(limit: .seconds(10)) { LocalSlurm.live([slurmJob]).isEmpty }
            #expect(gone, "Slurm job \(slurmJob) still there \(killedAt.duration(to: .now)) after its srun was killed")
            print("slurm: the Slurm job of a killed srun gone \(killedAt.duration(to: .now)) after the kill")
        }

        /// A daemon stop (SIGTERM to gatherd) while Slurm tasks run, one of
        /// them ignoring SIGTERM: the job is `interrupted`, its tasks
        /// `cancelled` (`daemon stopping`), and no Slurm job of it is left.
        @Test func daemonStopLeavesNoSlurmJob() async throws {
            guard LocalSlurm.canRun else { return }
            let harness = try DaemonHarness("slurm-stop")
            let daemon = try harness.start()
            defer { daemon.kill(SIGKILL); LocalSlurm.cancelLeftovers(harness) }
            let id = try harness.drop(harness.id("stop"), """
                {"executor": "slurm", "kill_grace": "2s", "cwd": "/tmp", "tasks": [
                  {"name": "obedient", "command": ["sleep", "300"]},
                  {"name": "stubborn", "command": ["sh", "-c", "trap '' TERM; sleep 300"]}
                ]}
                """)
            let learned = try await LocalSlurm.waitForLearned(harness, id, tasks: 2, daemon: daemon)
            let ids = learned.values.flatMap { $0 }
            let began = ContinuousClock.now
            daemon.kill(SIGTERM)
            #expect(await daemon.wait(limit: .seconds(30)) == 0, "\(daemon.stderr)")
            let took = began.duration(to: .now)
            print("slurm: daemon stop with a 2 s grace took \(took)")
            let record = try harness.record(id)
            #expect(record.state == "interrupted", "\(record.object)")
            for task in ["obedient", "stubborn"] {
                #expect(record.outcome(task) == "cancelled" && record.reason(task) == "daemon stopping", "task \(task)")
                #expect(record.task(task)?["slurm_job"] as? Int == learned[task]?.first, "task \(task)")
            }
            let gone = await RunningDaemon.waitUntil(limit: .seconds(10)) { LocalSlurm.live(ids).isEmpty }
            #expect(gone, "Slurm jobs left after the daemon stopped: \(LocalSlurm.live(ids))")
            print("slurm: Slurm jobs gone \(began.duration(to: .now)) after SIGTERM to gatherd")
        }

        /// first-success with Slurm tasks: the first to succeed stops the
        /// others (one ignores SIGTERM); the job succeeds and none of its
        /// Slurm jobs is left.
        @Test func firstSuccessStopsTheOtherSlurmTasks() async throws {
            guard LocalSlurm.canRun else { return }
            let harness = try DaemonHarness("slurm-race")
            let id = try harness.drop(harness.id("race"), """
                {"executor": "slurm", "policy": "first-success", "kill_grace": "1s", "cwd": "/tmp", "tasks": [
                  {"name": "quick", "command": ["sleep", "2"]},
                  {"name": "slow", "command": ["sleep", "300"]},
                  {"name": "stubborn", "command": ["sh", "-c", "trap '' TERM; sleep 300"]}
                ]}
                """)
            let began = ContinuousClock.now
            try await harness.runUntilIdle(limit: .seconds(40))
            #expect(began.duration(to: .now) < .seconds(20))
            let record = try harness.record(id)
            #expect(record.state == "succeeded", "\(record.object)")
            #expect(record.outcome("quick") == "succeeded")
            for task in ["slow", "stubborn"] {
                #expect(record.outcome(task) == "cancelled" && record.reason(task) == "quick succeeded", "task \(task)")
            }
            let ids = ["quick", "slow", "stubborn"].compactMap { record.task($0)?["slurm_job"] as? Int }
            #expect(ids.count == 3, "\(record.object)")
            let gone = await RunningDaemon.waitUntil(limit: .seconds(3)) { LocalSlurm.live(ids).isEmpty }
            #expect(gone, "Slurm jobs left: \(LocalSlurm.live(ids))")
        }

        /// The rest is unchanged across executors: a cancel request stops a
        /// Slurm task, skips its `after` dependant and still runs the Slurm
        /// `finally` task; a job deadline times a Slurm task out (`job
        /// timeout`); fail-fast skips what had not started. None leaves a Slurm job.
        @Test func cancelRequestFinallyDeadlineAndFailFastWorkAsForLocalTasks() async throws {
            guard LocalSlurm.canRun else { return }
            let harness = try DaemonHarness("slurm-rules")
            let cancelled = try harness.drop(harness.id("cancelled"), """
                {"executor": "slurm", "kill_grace": "1s", "cwd": "/tmp", "tasks": [
                  {"name": "a", "command": ["sleep", "300"]},
                  {"name": "b", "command": ["true"], "after": ["a"]},
                  {"name": "cleanup", "command": ["sh", "-c", "echo cleaned in $SLURM_JOB_ID"], "finally": true}
                ]}
                """)
            let deadline = try harness.drop(harness.id("deadline"), """
                {"executor": "slurm", "timeout": "2s", "kill_grace": "1s", "cwd": "/tmp", "tasks": [
                  {"name": "slow", "command": ["sleep", "300"]}
                ]}
                """)
            let failFast = try harness.drop(harness.id("failfast"), """
                {"executor": "slurm", "policy": "fail-fast", "kill_grace": "1s", "cwd": "/tmp", "tasks": [
                  {"name": "short", "command": ["sleep", "2"]},
                  {"name": "bad", "command": ["sh", "-c", "exit 9"]},
                  {"name": "waiting", "command": ["true"], "after": ["short"]}
                ]}
                """)
            let daemon = try harness.start(["--exit-when-idle"])
            defer { daemon.kill(SIGKILL); LocalSlurm.cancelLeftovers(harness) }
            let learned = await RunningDaemon.waitUntil(limit: .seconds(20)) { LocalSlurm.learned(harness, cancelled)["a"] != nil }
            try #require(learned, "no Slurm job learned for a\n\(daemon.stderr)")
            try harness.cancel(cancelled)
            #expect(await daemon.wait(limit: .seconds(30)) == 0)

            let c = try harness.record(cancelled)
            #expect(c.state == "cancelled")
            #expect(c.outcome("a") == "cancelled" && c.reason("a") == "cancelled by request")
            #expect(c.outcome("b") == "skipped")
            #expect(c.outcome("cleanup") == "succeeded")
            let cleaned = try harness.journal(cancelled).first { $0["GATHER_TASK"] == "cleanup" && $0["GATHER_STREAM"] == "stdout" }
            #expect(cleaned?["MESSAGE"] == "cleaned in \(c.task("cleanup")?["slurm_job"] as? Int ?? -1)")

            let d = try harness.record(deadline)
            #expect(d.error == "CompoundError, 1 error [slow: timed out after 2s (job timeout)]")

            let f = try harness.record(failFast)
            // fail-fast: the running task runs to its end, the one not started is skipped.
            #expect(f.error == "CompoundError, 1 error [bad: exited with status 9] (1 skipped)")
            #expect(f.outcome("short") == "succeeded" && f.outcome("waiting") == "skipped")

            let ids = [c.task("a"), d.task("slow"), f.task("short")].compactMap { $0?["slurm_job"] as? Int }
            #expect(ids.count == 3)
            let gone = await RunningDaemon.waitUntil(limit: .seconds(3)) { LocalSlurm.live(ids).isEmpty }
            #expect(gone, "Slurm jobs left: \(LocalSlurm.live(ids))")
        }

        /// No `srun` in the daemon's PATH: a job asking for slurm is rejected at
        /// its claim with a line that says so; a local job still runs. Needs no cluster.
        @Test func withoutSrunTheJobIsRejected() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("slurm-nosrun")
            let empty = try harness.scratch()
            let slurm = try harness.drop(harness.id("wants-slurm"), """
                {"tasks": [{"name": "a", "command": ["true"]}, {"name": "b", "command": ["true"], "executor": "slurm"}]}
                """)
            let local = try harness.drop(harness.id("local"), #"{"tasks": [{"name": "a", "command": ["true"]}]}"#)
            try await harness.runUntilIdle(extraEnvironment: ["PATH": empty])
            let record = try harness.record(slurm)
            #expect(record.area == "rejected")
            #expect(record.error == "executor: slurm: srun not found in PATH (\(empty))")
            #expect(try harness.record(local).state == "succeeded")
        }

        /// Slurm does not answer (`scontrol ping` says DOWN): rejected with
        /// `scontrol ping`'s words. Stand-in tools; needs no cluster.
        @Test func whenSlurmDoesNotAnswerTheJobIsRejected() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("slurm-down")
            let bin = try LocalSlurm.standInTools(harness, scontrol: "echo 'Slurmctld(primary) at ctl is DOWN'\nexit 1")
            let id = try harness.drop(harness.id("down"), #"{"executor": "slurm", "tasks": [{"name": "a", "command": ["true"]}]}"#)
            try await harness.runUntilIdle(extraEnvironment: ["PATH": bin + ":/usr/bin:/bin"])
            let record = try harness.record(id)
            #expect(record.area == "rejected")
            #expect(record.error == "executor: slurm: slurm does not answer (scontrol ping: Slurmctld(primary) at ctl is DOWN)")
            let rejected = try harness.journal(id).first { $0["MESSAGE_ID"] == "14aab89053904a78921c57d0c64d6cac" }
            #expect(rejected?["MESSAGE"]?.contains("executor: slurm: slurm does not answer") == true)
        }
        /// `scontrol ping` that hangs: given up after 5 s, the job rejected
        /// with that. Stand-in tools; needs no cluster.
        @Test func whenScontrolHangsTheProbeGivesUpAndRejects() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("slurm-hang")
            // Run once by the writer with the argument 0: a harmless call ends at once.
            let bin = try LocalSlurm.standInTools(harness, scontrol: "[ \"$1\" = 0 ] && exit 0\nexec sleep 60")
            let id = try harness.drop(harness.id("hang"), #"{"executor": "slurm", "tasks": [{"name": "a", "command": ["true"]}]}"#)
            let began = ContinuousClock.now
            try await harness.runUntilIdle(extraEnvironment: ["PATH": bin + ":/usr/bin:/bin"])
            let took = began.duration(to: .now)
            #expect(took >= .seconds(5) && took < .seconds(15), "\(took)")
            let record = try harness.record(id)
            #expect(record.area == "rejected")
            #expect(record.error == "executor: slurm: slurm does not answer (scontrol ping: no answer within the limit)")
        }
    }
}
