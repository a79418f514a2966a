import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// Cgroups (SPEC §11): nothing a task starts outlives it — the ordinary
    /// ways out of a process group, and a fork storm, each checked by PID —
    /// whether the task ends, is cancelled or times out, and after `kill -9`
    /// of gatherd and a restart; CPU accounting against the task's own
    /// figure; limits enforced where the controller exists, refused where not.
    @Suite("gatherd end to end: cgroups", .serialized, .timeLimit(.minutes(5)))
    struct CgroupEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        /// How the main process of each pattern's task goes on once its escapees are recorded.
        enum Main: String, CaseIterable, Sendable {
            /// It exits 0: the task ends and leaves its escapees behind.
            case exits
            /// It sleeps on: the job is cancelled.
            case cancelled
            /// It sleeps on: the task's timeout ends it.
            case timesOut
        }

        /// The kill grace of every job here, and what the SPEC allows past it.
        static let grace = 1.0
        static let slack = 1.0
        /// The task timeout in the timeout case.
        static let timeout = 4.0

        /// The ways out, each a task: it appends the PIDs of what it leaves
        /// running to `scratch/NAME.pids`, waits until all are there, then
        /// goes on as `main` says. `count` is the number of PIDs it records.
        static func patterns(_ scratch: String, main: Main) -> [(name: String, count: Int, script: String)] {
            func file(_ name: String) -> String { "\(scratch)/\(name).pids" }
            let list: [(String, Int, String)] = [
                // A double fork inside the group: the sleep is orphaned (gatherd reaps it).
                ("double-fork", 1, "(sleep 300 & echo $! >> F)"),
                // A grandchild that ignores SIGTERM (ignored signals stay ignored across exec).
                ("ignores-term", 1, #"sh -c 'trap "" TERM; echo $$ >> F; exec sleep 300' &"#),
                // The main process itself ignores SIGTERM.
                ("main-ignores-term", 1, "trap '' TERM; echo $$ >> F"),
                // setsid: a session and group of its own.
                ("setsid", 1, "setsid sleep 300 & echo $! >> F"),
                // setsid with stdin, stdout and stderr closed.
                ("setsid-closed", 1, #"setsid sh -c 'echo $$ >> F; exec sleep 300' <&- >&- 2>&- &"#),
                // The classic daemon: fork, setsid, fork again, close stdio.
                ("daemon", 1, #"perl -e 'use POSIX; exit 0 if fork; POSIX::setsid(); exit 0 if fork; open(my $f, ">>", "F"); print $f "$$\n"; close $f; close STDIN; close STDOUT; close STDERR; sleep 300'"#),
                // A plain setpgid, no new session.
                ("setpgid", 1, #"perl -e 'setpgrp(0, 0); open(my $f, ">>", "F"); print $f "$$\n"; close $f; sleep 300' &"#),
                // A small bounded fork storm, every one in a session of its own.
                ("storm", 200, "i=0; while [ $i -lt 200 ]; do setsid sleep 300 & echo $! >> F; i=$((i+1)); done"),
            ]
            return list.map { name, count, body in
                let wait = "while [ \"$(cat F 2>/dev/null | wc -l)\" -lt \(count) ]; do sleep 0.02; done"
                let then = main == .exits ? "exit 0" : "exec sleep 300"
                // Lines, not `;`: a body may end in `&`.
                let script = "\(body)\n\(wait)\n\(then)".replacingOccurrences(of: "F", with: file(name))
                return (name, count, script)
            }
        }

        static func job(_ scratch: String, main: Main) -> String {
            let timeout = main == .timesOut ? #", "timeout": "\#(Int(timeout))s""# : ""
            let tasks = patterns(scratch, main: main).map { pattern in
                #"{"name": "\#(pattern.name)", "command": ["sh", "-c", \#(jsonString(pattern.script))]\#(timeout)}"#
            }
            return #"{"kill_grace": "\#(Int(grace))s", "tasks": [\#(tasks.joined(separator: ", "))]}"#
        }

        /// Every PID the patterns recorded, once all are there.
        static func recordedPIDs(_ scratch: String, main: Main) async -> [String: [pid_t]]? {
            let patterns = patterns(scratch, main: main)
            var pids: [String: [pid_t]] = [:]
            let complete = await eventually(limit: .seconds(30)) {
                for pattern in patterns {
                    let text = (try? String(contentsOfFile: "\(scratch)/\(pattern.name).pids", encoding: .utf8)) ?? ""
                    let found = text.split(separator: "\n").compactMap { pid_t($0) }
                    guard found.count >= pattern.count else { return false }
                    pids[pattern.name] = found
                }
                return true
            }
            return complete ? pids : nil
        }

        /// Waits until every PID is gone; returns when (seconds since the epoch), or nil after `limit`.
        static func goneAt(_ pids: [pid_t], limit: Duration = .seconds(30)) async -> Double? {
            var left = pids
            let gone = await eventually(limit: limit) {
                left.removeAll(where: processIsGone)
                return left.isEmpty
            }
            return gone ? Date().timeIntervalSince1970 : nil
        }

        /// A harness whose daemons get a cgroup of their own, or nil when the
        /// test must skip (having printed why: no journald, no cgroup).
        static func cgroupHarness(_ name: String) throws -> (DaemonHarness, TestCgroup)? {
            guard TestJournald.canRun else { return nil }
            let harness = try DaemonHarness(name)
            guard let cgroup = harness.cgroup else {
                print("skipped: \(TestCgroup.unavailable ?? "no cgroup")")
                return nil
            }
            return (harness, cgroup)
        }

        /// Seconds since the epoch of a record time.
        static func seconds(_ text: Any?) -> Double? {
            JobRecordJSON.milliseconds(text as? String).map { Double($0) / 1000 }
        }

        @Test("nothing a task starts outlives it: the seven ways out and a fork storm", arguments: Main.allCases)
        func nothingEscapes(main: Main) async throws {
            guard let (harness, cgroup) = try Self.cgroupHarness("cgroup-\(main.rawValue)") else { return }
            let scratch = try harness.scratch()
            let id = try harness.drop(harness.id("escape"), Self.job(scratch, main: main))
            let daemon = try harness.start(["--exit-when-idle"])
            let pids = try #require(await Self.recordedPIDs(scratch, main: main), "the patterns did not record their PIDs: \(harness.listing())")
            if main != .exits {
                // Escapees run on, each task in its own cgroup in the job's (the
                // exiting mains end their tasks at once, so only here can this be seen).
                #expect(cgroup.children(of: "job-\(id)") == pids.keys.map { "task-\($0)" }.sorted())
                for name in ["setsid", "daemon", "setpgid"] {
                    for pid in pids[name] ?? [] { #expect(!processIsGone(pid), "\(name): \(pid) not running") }
                }
            }
            var cancelledAt: Double?
            if main == .cancelled {
                cancelledAt = Date().timeIntervalSince1970
                try harness.cancel(id)
            }
            let all = pids.values.flatMap { $0 }
            let goneAt = try #require(await Self.goneAt(all), "left running: \(all.filter { !processIsGone($0) })")
            #expect(await daemon.wait(limit: .seconds(30)) == 0, "\(daemon.stderr)")

            let record = try harness.record(id)
            // The moment each task's stop began; every PID is checked at once,
            // so the latest stop bounds them all.
            var stops: [Double] = []
            for (name, _, _) in Self.patterns(scratch, main: main) {
                let task = try #require(record.task(name))
                let started = try #require(Self.seconds(task["started_at"]))
                switch main {
                case .exits:
                    #expect(record.outcome(name) == "succeeded")
                    stops.append(started + Double(task["duration_ms"] as? Int ?? 0) / 1000)
                case .cancelled:
                    #expect(record.outcome(name) == "cancelled")
                    stops.append(try #require(cancelledAt))
                case .timesOut:
                    #expect(record.outcome(name) == "timed-out")
                    stops.append(started + Self.timeout)
                }
            }
            let lastStop = try #require(stops.max())
            // Gone within the grace + 1 s of the stop (0.2 s for the test's own polling).
            #expect(goneAt <= lastStop + Self.grace + Self.slack + 0.2, "gone \(goneAt - lastStop) s after the last stop")
            #expect(record.state == (main == .exits ? "succeeded" : main == .cancelled ? "cancelled" : "failed"))
            // The job's cgroup went with it.
            #expect(cgroup.children() == ["supervisor"], "\(cgroup.children())")
        }

        @Test("after kill -9 of gatherd, the restart's recovery stops what the job's cgroup holds")
        func recoveryKillsLeftovers() async throws {
            guard let (harness, cgroup) = try Self.cgroupHarness("cgroup-recover") else { return }
            let scratch = try harness.scratch()
            let id = try harness.drop(harness.id("crash"), Self.job(scratch, main: .cancelled))
            let first = try harness.start()
            let pids = try #require(await Self.recordedPIDs(scratch, main: .cancelled), "\(harness.listing())")
            let all = pids.values.flatMap { $0 }
            first.kill(SIGKILL)
            #expect(await first.wait(limit: .seconds(10)) != nil)
            // Nothing stopped them: gatherd is gone.
            await pause(.milliseconds(300))
            #expect(all.allSatisfy { !processIsGone($0) }, "gone before the restart: \(all.filter(processIsGone))")
            #expect(cgroup.children().contains("job-\(id)"))

            let restartAt = Date().timeIntervalSince1970
            let second = try harness.start(["--exit-when-idle"])
            let goneAt = try #require(await Self.goneAt(all), "left running: \(all.filter { !processIsGone($0) })")
            #expect(goneAt <= restartAt + Self.grace + Self.slack, "gone \(goneAt - restartAt) s after the restart")
            #expect(await second.wait(limit: .seconds(30)) == 0, "\(second.stderr)")
            #expect(try harness.record(id).state == "interrupted")
            #expect(cgroup.children() == ["supervisor"], "\(cgroup.children())")
        }

        @Test("a task's cpu_usec is the CPU time it measured itself, within 20%")
        func cpuAccounting() async throws {
            guard let (harness, _) = try Self.cgroupHarness("cgroup-cpu") else { return }
            let scratch = try harness.scratch()
            // The shell burns CPU, then writes its own /proc/PID/stat (utime, stime: fields 14, 15).
            let script = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; cat /proc/$$/stat > \(scratch)/stat"
            let id = try harness.drop(harness.id("burn"), #"{"tasks": [{"name": "burn", "command": ["sh", "-c", \#(jsonString(script))]}]}"#)
            try await harness.runToIdle()
            let stat = try String(contentsOfFile: "\(scratch)/stat", encoding: .utf8)
            let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
            let ticks = try #require(Double(fields[11])) + (try #require(Double(fields[12])))
            let measured = ticks / Double(sysconf(Int32(_SC_CLK_TCK))) * 1_000_000
            #expect(measured > 100_000, "the loop burned only \(measured) µs")

            let record = try harness.record(id)
            let usec = try #require(record.task("burn")?["cpu_usec"] as? Int, "\(record.object)")
            #expect(abs(Double(usec) - measured) <= 0.2 * measured, "cpu_usec \(usec), measured \(measured)")
            let jobUsec = try #require(record.object["cpu_usec"] as? Int)
            #expect(jobUsec >= usec)
        }

        @Test("memory_max: enforced where the memory controller is delegated, else the job is rejected with why")
        func memoryLimit() async throws {
            guard let (harness, cgroup) = try Self.cgroupHarness("cgroup-memory") else { return }
            // Holds 256 MiB, past the job's 64 MiB.
            let hog = #"perl -e '$x = "a" x (256 * 1024 * 1024); sleep 1'"#
            let id = try harness.drop(harness.id("hog"), #"""
                {"memory_max": "64M", "tasks": [{"name": "hog", "command": ["sh", "-c", \#(jsonString(hog))]}]}
                """#)
            try await harness.runToIdle()
            let record = try harness.record(id)
            if cgroup.controllers.contains("memory") {
                #expect(record.state == "failed")
                #expect(record.outcome("hog") == "killed")
                #expect(record.error?.contains("hog: killed by the OOM killer (memory_max 64M)") == true, "\(record.error ?? "")")
            } else {
                // These machines: cgroup2 without the memory controller (docs/cgroups.md).
                print("note: no memory controller in \(cgroup.path); proving the rejection path")
                #expect(record.state == "rejected")
                #expect(record.error?.hasPrefix("memory_max: cannot be enforced here: the memory controller is not delegated") == true,
                        "\(record.error ?? "")")
                #expect(record.tasks.isEmpty)
            }
            // A task's own limits: each one the host cannot enforce is named with its key path.
            let missing = ["cpu_max": "cpu", "tasks_max": "pids"].filter { !cgroup.controllers.contains($0.value) }
            guard !missing.isEmpty else {
                print("note: cpu and pids controllers present; no task-level rejection to prove")
                return
            }
            let taskLimited = try harness.drop(harness.id("task-limits"), #"""
                {"tasks": [{"name": "a", "command": ["true"]},
                           {"name": "b", "command": ["true"], "cpu_max": "50%", "tasks_max": 10}]}
                """#)
            try await harness.runToIdle()
            let refused = try harness.record(taskLimited)
            #expect(refused.state == "rejected")
            for (key, controller) in missing.sorted(by: { $0.key < $1.key }) {
                #expect(refused.error?.contains("tasks[1].\(key): cannot be enforced here: the \(controller) controller is not delegated") == true,
                        "\(refused.error ?? "")")
            }
        }

        @Test("the start line says what the host gives; --cgroup PATH that is no cgroup stops the start")
        func startLine() async throws {
            let harness = try DaemonHarness("cgroup-line")
            if let cgroup = harness.cgroup {
                let daemon = try await harness.runToIdle(["--log-target", "stderr", "--cgroup", cgroup.path])
                #expect(daemon.stderr.contains("cgroups: kill, accounting"), "\(daemon.stderr)")
            } else {
                print("skipped (PATH case): \(TestCgroup.unavailable ?? "no cgroup")")
            }
            let off = try await harness.runToIdle(["--log-target", "stderr", "--cgroup", "off"])
            #expect(off.stderr.contains("cgroups: off (--cgroup off)"), "\(off.stderr)")
            let own = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
            if own.split(separator: "\n").contains("0::/") {
                let auto = try await harness.runToIdle(["--log-target", "stderr", "--cgroup", "auto"])
                #expect(auto.stderr.contains("cgroups: off (in the root cgroup; use --cgroup PATH)"), "\(auto.stderr)")
            } else {
                print("skipped (auto in the root cgroup): this test process is not in the root cgroup")
            }
            let bad = try harness.start(["--cgroup", "/tmp"])
            #expect(await bad.wait(limit: .seconds(10)) == 1)
            #expect(bad.stderr.contains("--cgroup /tmp: not a directory on a cgroup2 file system"), "\(bad.stderr)")
            if let root = TestCgroup.mount, TestCgroup.unavailable == nil {
                let atRoot = try harness.start(["--cgroup", root])
                #expect(await atRoot.wait(limit: .seconds(10)) == 1)
                #expect(atRoot.stderr.contains("the root of the cgroup2 file system"), "\(atRoot.stderr)")
            }
            // One daemon per subtree: a second one on another spool cannot move in.
            if let cgroup = harness.cgroup {
                let first = try harness.start()
                #expect(await eventually { (try? String(contentsOfFile: cgroup.path + "/supervisor/cgroup.procs", encoding: .utf8))?.contains(String(first.pid)) == true })
                let other = try DaemonHarness("cgroup-line-2")
                let second = try other.start(["--cgroup", cgroup.path])
                #expect(await second.wait(limit: .seconds(10)) == 1)
                #expect(second.stderr.contains("in use by another process (pid \(first.pid)"), "\(second.stderr)")
                first.kill(SIGTERM)
                #expect(await first.wait(limit: .seconds(10)) == 0)
            }
        }
    }
}
