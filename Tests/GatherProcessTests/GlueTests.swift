import Gather
import GatherProcess
import Glibc
import Synchronization
import Testing

/// Process tasks run by the `Gather` engine.
@Suite("Glue: process tasks in gather()", .timeLimit(.minutes(1)))
struct GlueTests {
    static func task(
        _ name: String, _ script: String, codes: Set<Int32> = [0], grace: Duration = .milliseconds(300),
        timeout: Duration? = nil, output: ProcessOutputHandler? = nil, onEvent: (@Sendable (ProcessEvent) -> Void)? = nil
    ) throws -> GatherTask<ProcessExit> {
        let spec = ProcessTaskSpec(
            name: name, command: ["/bin/sh", "-c", script],
            environment: TaskEnvironment(user: "root", home: "/root", shell: "/bin/sh", job: "job1", task: name),
            successExitCodes: codes, killGrace: grace)
        var perAttempt: (@Sendable (Int) -> ProcessOutputHandler?)?
        if let output { perAttempt = { _ in output } }
        return .process(spec, timeout: timeout, launcher: try Support.launcher, output: perAttempt, onEvent: onEvent)
    }

    @Test("success_exit_codes decide success; the texts are SPEC §5's")
    func outcomes() async throws {
        let results = try await gather([
            try Self.task("ok", "exit 0"),
            try Self.task("three-ok", "exit 3", codes: [0, 3]),
            try Self.task("dump-db", "echo 'connection refused' >&2; exit 1"),
            try Self.task("upload", "kill -KILL $$"),
            GatherTask.process(
                ProcessTaskSpec(name: "notify", command: ["curl-not-installed"],
                                environment: TaskEnvironment(user: "root", home: "/root", shell: "/bin/sh", job: "j", task: "notify"),
                                killGrace: .seconds(5)),
                launcher: try Support.launcher),
            GatherTask.process(
                ProcessTaskSpec(name: "bad-cwd", command: ["/bin/true"],
                                environment: TaskEnvironment(user: "root", home: "/root", shell: "/bin/sh", job: "j", task: "bad-cwd"),
                                cwd: "/srv/x-missing", killGrace: .seconds(5)),
                launcher: try Support.launcher),
        ])
        #expect(results.tasks.map(\.outcome) == [.succeeded, .succeeded, .failed, .killed, .spawnFailed, .spawnFailed])
        #expect(results.compoundError?.description == "CompoundError, 4 errors [dump-db: exited with status 1; "
            + "upload: killed by signal SIGKILL; notify: could not start: No such file or directory (curl-not-installed); "
            + "bad-cwd: could not start: No such file or directory (cwd /srv/x-missing)]")
        // What the record needs travels with the value and the error.
        let ok = try #require(try results.lastAttempts[1]?.get())
        #expect(ok.status == .exited(3))
        guard case .failure(let error)? = results.lastAttempts[2], let failed = error as? ProcessTaskError else {
            Issue.record("dump-db did not throw a ProcessTaskError")
            return
        }
        #expect(failed.exit?.status.exitCode == 1)
        #expect(failed.exit?.stderrTail == Array("connection refused\n".utf8))
    }

    @Test("cancel-siblings: a failure stops a sleeping sibling and its grandchild within the grace")
    func cancelSiblings() async throws {
        let pids = Mutex<[Int32]>([])
        let started = Mutex<[(String, Int32, UInt64?)]>([])
        let grandchild: ProcessOutputHandler = { _, _, line in
            if let pid = Int32(String(decoding: line, as: UTF8.self)) { pids.withLock { $0.append(pid) } }
        }
        let begin = ContinuousClock.now
        let results = try await gather([
            try Self.task("fails", "sleep 0.3; exit 2"),
            // The sibling and its grandchild both ignore SIGTERM: only the SIGKILL after the grace ends them.
            try Self.task("sleeper", "trap '' TERM; sleep 30 & echo $!; wait", output: grandchild, onEvent: { event in
                if case .started(let task, _, let pid, let group, let startTime, _) = event, pid == group {
                    started.withLock { $0.append((task, pid, startTime)) }
                }
            }),
        ], options: GatherOptions(policy: .cancelSiblings))
        let took = begin.duration(to: .now)
        #expect(results.tasks.map(\.outcome) == [.failed, .cancelled])
        #expect(results.tasks[1].reason == .siblingFailed("fails"))
        #expect(results.compoundError?.description == "CompoundError, 1 error [fails: exited with status 2] (1 cancelled)")
        let sleeper = try #require(started.withLock { $0.first })
        #expect(sleeper.2 != nil, "start time read from /proc")
        let child = try #require(pids.withLock { $0.first })
        #expect(Support.isGone(sleeper.1), "sibling \(sleeper.1) gone")
        #expect(await Support.waitGone(child, within: .seconds(5)), "grandchild \(child) gone")
        // 0.3 s to fail + 0.3 s grace + reaping; far below the sibling's 30 s (generous for a loaded CI machine).
        #expect(took < .seconds(15))
    }

    @Test("a task timeout stops the process: timed-out, with the limit in the line")
    func timeout() async throws {
        let results = try await gather([
            try Self.task("fetch", "sleep 30", timeout: .milliseconds(300)),
        ])
        #expect(results.tasks[0].outcome == .timedOut)
        #expect(results.compoundError?.description == "CompoundError, 1 error [fetch: timed out after 300ms]")
        guard case .failure(let error)? = results.lastAttempts[0] else {
            Issue.record("expected the attempt to report the signal")
            return
        }
        #expect((error as? ProcessTaskError)?.exit?.status == .signaled(SIGTERM))
    }

    @Test("retries run a new process with GATHER_ATTEMPT counting up")
    func retries() async throws {
        let seen = LineCollector()
        let spec = ProcessTaskSpec(
            name: "flaky", command: ["/bin/sh", "-c", "echo $GATHER_ATTEMPT; [ $GATHER_ATTEMPT -ge 3 ]"],
            environment: TaskEnvironment(user: "root", home: "/root", shell: "/bin/sh", job: "j", task: "flaky"),
            killGrace: .seconds(5))
        let results = try await gather([
            .process(spec, retries: 3, retryDelay: .milliseconds(10), launcher: try Support.launcher, output: { _ in seen.handler }),
        ])
        #expect(results.tasks[0].outcome == .succeeded)
        #expect(results.tasks[0].attempts == 3)
        #expect(seen.lines(.stdout) == ["1", "2", "3"])
    }

    @Test("cancelling the caller's task stops the process; the task is cancelled")
    func outerCancel() async throws {
        let pid = Mutex<Int32?>(nil)
        let group = try Self.task("long", "sleep 30", onEvent: { event in
            if case .started(_, _, let p, _, _, _) = event { pid.withLock { $0 = p } }
        })
        let running = Task { try await gather([group]) }
        while pid.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(5)) }
        running.cancel()
        let results = try await running.value
        #expect(results.tasks[0].outcome == .cancelled)
        #expect(Support.isGone(try #require(pid.withLock { $0 })))
    }
    @Test("a task whose main process exited 0 succeeds, though its timeout passes while its group is stopped")
    func leftoverOutlastsTheTimeout() async throws {
        // The main process exits at once, leaving a child that ignores SIGTERM:
        // stopping the group takes the whole grace (3 s), longer than the timeout.
        let results = try await gather([
            try Self.task("quick", "(trap '' TERM; exec sleep 30) & exit 0", grace: .seconds(3), timeout: .milliseconds(300)),
        ])
        let quick = try #require(results.tasks.first)
        #expect(quick.outcome == .succeeded)
        #expect(results.compoundError == nil)
        // The task ended with its main process, not after the group was stopped
        // (a margin of 2.5 s for a loaded machine).
        #expect(try #require(quick.duration) < .milliseconds(2_500))
    }
}
