import Testing
import Gather

@Suite("Clean-up (finally) tasks") struct CleanUpTaskTests {
    @Test(.timeLimit(.minutes(1))) func cleanUpStartsOnlyOnceEveryOtherTaskEnded() async throws {
        let ended = Recorder<String>()
        let seenAtStart = Recorder<[String]>()
        let results = try await gather([
            GatherTask<Int>("cleanup", finally: true) { _ in seenAtStart.append(ended.all.sorted()); return 0 },
            GatherTask("a") { _ in try await Task.sleep(for: .milliseconds(50)); return 1 },
            GatherTask("b") { _ in try await Task.sleep(for: .milliseconds(100)); throw Boom("exited with status 1") },
            GatherTask("c", after: ["a"]) { _ in try await Task.sleep(for: .milliseconds(20)); return 3 },
        ], options: GatherOptions(onEvent: { event in
            if case .taskEnded(let result) = event { ended.append(result.name) }
        }))
        #expect(seenAtStart.all == [["a", "b", "c"]])
        #expect(results.tasks.map(\.outcome) == [.succeeded, .succeeded, .failed, .succeeded])
        #expect(results.result("cleanup")?.isFinally == true)
        #expect(results.result("a")?.isFinally == false)
        #expect(results.state == .failed)
    }

    @Test(.timeLimit(.minutes(1)), arguments: [GatherPolicy.failFast, .cancelSiblings])
    func cleanUpRunsAfterThePolicyStoppedTheRest(policy: GatherPolicy) async throws {
        let cleanUpSawCancellation = Recorder<Bool>()
        let firstError = Latch()
        let results = try await gather([
            GatherTask<Int>("fails") { _ in try await Task.sleep(for: .milliseconds(20)); throw Boom("exited with status 1") },
            // Under fail-fast it ends on its own once the error is in; under
            // cancel-siblings only the cancellation can end it.
            GatherTask("running") { _ in
                if policy == .failFast { await firstError.wait() } else { try await Task.sleep(for: .seconds(60)) }
                return 2
            },
            GatherTask("queued") { _ in 3 },
            GatherTask("unlock", finally: true) { _ in
                cleanUpSawCancellation.append(Task.isCancelled)
                try await Task.sleep(for: .milliseconds(10))
                return 4
            },
        ], options: GatherOptions(policy: policy, maxParallel: 2, onEvent: { event in
            if case .firstError = event { firstError.open() }
        }))
        #expect(results.result("running")?.outcome == (policy == .failFast ? .succeeded : .cancelled))
        #expect(results.result("queued")?.outcome == .skipped)
        #expect(results.result("unlock")?.outcome == .succeeded)
        #expect(results.result("unlock")?.attempts == 1)
        // A clean-up task after cancel-siblings runs in a task group that is not cancelled.
        #expect(cleanUpSawCancellation.all == [false])
        #expect(results.state == .failed)
    }

    /// The policy's stop watches no deadline while the running tasks stop;
    /// one that passed meanwhile still keeps the clean-up from starting.
    @Test(.timeLimit(.minutes(1))) func aDeadlinePassedWhileTheTasksStopKeepsTheCleanUpFromStarting() async throws {
        let cleanUpStarted = Recorder<String>()
        let results = try await gather([
            GatherTask<Int>("fails") { _ in throw Boom("exited with status 1") },
            // Takes 700 ms whatever it is asked: past the 300 ms deadline.
            GatherTask("slow-stop") { _ in
                await Task.detached { try? await Task.sleep(for: .milliseconds(700)) }.value
                return 2
            },
            GatherTask("unlock", finally: true) { _ in cleanUpStarted.append("unlock"); return 3 },
        ], options: GatherOptions(policy: .cancelSiblings, timeout: .milliseconds(300)))
        #expect(cleanUpStarted.all.isEmpty)
        #expect(results.result("unlock")?.outcome == .skipped)
        #expect(results.result("unlock")?.reason == .jobTimedOut)
        #expect(results.state == .failed)
    }

    @Test(.timeLimit(.minutes(1))) func cleanUpRunsAfterACancelRequest() async throws {
        let control = GatherControl()
        let stops = Recorder<StopRequest>()
        let started = Latch()
        async let gathered = gather([
            GatherTask<Int>("running") { attempt in started.open(); return try await stubbornBody(stops)(attempt) },
            GatherTask("later", after: ["running"]) { _ in 2 },
            GatherTask("unlock", finally: true) { _ in try await Task.sleep(for: .milliseconds(10)); return 3 },
        ], options: GatherOptions(control: control))
        await started.wait()
        control.cancel(.cancelledByRequest)
        let results = try await gathered
        #expect(results.tasks.map(\.outcome) == [.cancelled, .skipped, .succeeded])
        #expect(stops.all == [.cancelled(.cancelledByRequest)])
        #expect(results.state == .cancelled)
    }

    @Test(.timeLimit(.minutes(1))) func aStopOfTheDaemonDuringTheCleanUpStopsIt() async throws {
        let control = GatherControl()
        let stops = Recorder<StopRequest>()
        let mainStarted = Latch()
        let cleanUpStarted = Latch()
        async let gathered = gather([
            GatherTask<Int>("running") { _ in mainStarted.open(); try await Task.sleep(for: .seconds(60)); return 1 },
            GatherTask("unlock", finally: true) { attempt in
                cleanUpStarted.open()
                return try await stubbornBody(stops)(attempt)
            },
        ], options: GatherOptions(control: control))
        await mainStarted.wait()
        control.cancel(.cancelledByRequest)
        await cleanUpStarted.wait()
        control.cancel(.daemonStopping)
        let results = try await gathered
        #expect(results.tasks.map(\.outcome) == [.cancelled, .cancelled])
        #expect(stops.all == [.cancelled(.daemonStopping)])
        #expect(results.result("unlock")?.reason == .daemonStopping)
        #expect(results.state == .interrupted)
    }

    @Test(.timeLimit(.minutes(1))) func cleanUpIsNotStartedWhenTheDaemonStops() async throws {
        let control = GatherControl()
        let started = Latch()
        let ran = Recorder<String>()
        async let gathered = gather([
            GatherTask<Int>("running") { _ in started.open(); try await Task.sleep(for: .seconds(60)); return 1 },
            GatherTask("unlock", finally: true) { _ in ran.append("unlock"); return 2 },
        ], options: GatherOptions(control: control))
        await started.wait()
        control.cancel(.daemonStopping)
        let results = try await gathered
        #expect(results.tasks.map(\.outcome) == [.cancelled, .skipped])
        #expect(results.result("unlock")?.reason == .daemonStopping)
        #expect(ran.all.isEmpty)
        #expect(results.state == .interrupted)
    }

    @Test(.timeLimit(.minutes(1))) func cleanUpIsNotStartedAfterTheDeadline() async throws {
        let ran = Recorder<String>()
        let results = try await gather([
            GatherTask<Int>("slow") { _ in try await Task.sleep(for: .seconds(60)); return 1 },
            GatherTask("unlock", finally: true) { _ in ran.append("unlock"); return 2 },
        ], options: GatherOptions(timeout: .milliseconds(150)))
        #expect(results.tasks.map(\.outcome) == [.timedOut, .skipped])
        #expect(results.result("unlock")?.reason == .jobTimedOut)
        #expect(ran.all.isEmpty)
        #expect(results.compoundError?.description
            == "CompoundError, 1 error [slow: timed out after 150ms (job timeout)] (1 skipped)")
    }

    @Test(.timeLimit(.minutes(1))) func theDeadlineStillStopsARunningCleanUpTask() async throws {
        let stops = Recorder<StopRequest>()
        let results = try await gather([
            GatherTask<Int>("fails") { _ in throw Boom("exited with status 1") },
            GatherTask("unlock", finally: true, body: stubbornBody(stops)),
        // 8 s: the clean-up starts at once after "fails", well before the
        // deadline. A deadline that passed first would keep it from starting
        // (cleanUpIsNotStartedAfterTheDeadline), and 2 s was not enough: in CI,
        // with the whole suite starting on two cores, tasks waited over 2 s
        // for a thread.
        ], options: GatherOptions(policy: .cancelSiblings, timeout: .seconds(8)))
        #expect(results.tasks.map(\.outcome) == [.failed, .timedOut])
        #expect(stops.all == [.jobTimedOut(.seconds(8))])
        #expect(results.compoundError?.description
            == "CompoundError, 2 errors [fails: exited with status 1; unlock: timed out after 8s (job timeout)]")
    }

    @Test func aCleanUpTaskNamedInAfterIsRejected() async {
        let ran = Recorder<String>()
        do {
            _ = try await gather([
                GatherTask<Int>("unlock", finally: true) { _ in ran.append("unlock"); return 0 },
                GatherTask("work", after: ["unlock"]) { _ in ran.append("work"); return 1 },
            ])
            Issue.record("a clean-up task named in after was accepted")
        } catch {
            #expect(error.graphProblems == [.namesFinallyTask(index: 1, position: 0, name: "unlock")])
            #expect(error.description == "task \"work\": after: \"unlock\" is a finally task, which no task can wait for")
        }
        #expect(ran.all.isEmpty)
    }

    @Test func aCleanUpTaskWithAfterRunsOnlyIfThoseSucceeded() async throws {
        let results = try await gather([
            GatherTask<Int>("build") { _ in throw Boom("exited with status 1") },
            GatherTask("fetch") { _ in 2 },
            GatherTask("publish-logs", after: ["fetch", "build"], finally: true) { _ in 3 },
            GatherTask("unlock", after: ["fetch"], finally: true) { _ in 4 },
        ])
        #expect(results.tasks.map(\.outcome) == [.failed, .succeeded, .skipped, .succeeded])
        #expect(results.result("publish-logs")?.reason == .dependencyDidNotSucceed("build"))
    }

    @Test func aFailingCleanUpTaskStopsNoOtherCleanUpTask() async throws {
        let results = try await gather([
            GatherTask<Int>("work") { _ in 1 },
            GatherTask("first", finally: true) { _ in throw Boom("exited with status 3") },
            GatherTask("second", finally: true) { _ in try await Task.sleep(for: .milliseconds(50)); return 3 },
        ], options: GatherOptions(policy: .cancelSiblings))
        #expect(results.tasks.map(\.outcome) == [.succeeded, .failed, .succeeded])
        #expect(results.state == .failed)
        #expect(results.compoundError?.description == "CompoundError, 1 error [first: exited with status 3]")
    }

    @Test func cleanUpTasksRetryAndKeepMaxParallel() async throws {
        let gauge = ConcurrencyGauge()
        let results = try await gather((0..<4).map { i in
            GatherTask<Int>("cleanup\(i)", retries: 1, retryDelay: .milliseconds(5), finally: true) { attempt in
                gauge.enter()
                defer { gauge.leave() }
                try await Task.sleep(for: .milliseconds(5))
                if attempt.number == 1 { throw Boom("exited with status 75") }
                return i
            }
        } + [GatherTask("work") { _ in 9 }], options: GatherOptions(maxParallel: 2))
        #expect(results.tasks.map(\.attempts) == [2, 2, 2, 2, 1])
        #expect(results.state == .succeeded)
        #expect((1...2).contains(gauge.maximum), "\(gauge.maximum) clean-up attempts at once")
    }

    @Test(.timeLimit(.minutes(1))) func cancellingTheCallerSkipsTheCleanUp() async throws {
        let started = Latch()
        let ran = Recorder<String>()
        let task = Task {
            try await gather([
                GatherTask<Int>("sleeper") { _ in started.open(); try await Task.sleep(for: .seconds(60)); return 1 },
                GatherTask("unlock", finally: true) { _ in ran.append("unlock"); return 2 },
            ])
        }
        await started.wait()
        task.cancel()
        let results = try await task.value
        #expect(results.tasks.map(\.outcome) == [.cancelled, .skipped])
        #expect(ran.all.isEmpty)
        #expect(results.state == .cancelled)
    }
}
