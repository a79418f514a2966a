import Testing
import Gather

@Suite("first-success") struct FirstSuccessTests {
    @Test(.timeLimit(.minutes(1))) func theFirstSuccessCancelsRunningTasksAndSkipsTheRest() async throws {
        let stops = Recorder<StopRequest>()
        let mirrorAFailed = Latch()
        let started = Recorder<String>()
        let results = try await gather([
            GatherTask<Int>("mirror-a") { _ in started.append("mirror-a"); throw Boom("exited with status 6") },
            GatherTask("mirror-b") { _ in started.append("mirror-b"); await mirrorAFailed.wait(); return 2 },
            GatherTask("mirror-c") { attempt in started.append("mirror-c"); return try await stubbornBody(stops)(attempt) },
            GatherTask("mirror-d", after: ["mirror-c"]) { _ in started.append("mirror-d"); return 4 },
        ], options: GatherOptions(policy: .firstSuccess, onEvent: { event in
            if case .taskEnded(let result) = event, result.name == "mirror-a" { mirrorAFailed.open() }
        }))
        #expect(results.tasks.map(\.outcome) == [.failed, .succeeded, .cancelled, .skipped])
        #expect(stops.all == [.cancelled(.siblingSucceeded("mirror-b"))])
        #expect(results.result("mirror-c")?.reason?.description == "mirror-b succeeded")
        #expect(results.result("mirror-d")?.reason == .siblingSucceeded("mirror-b"))
        #expect(!started.all.contains("mirror-d"))
        #expect(results.firstSuccess == "mirror-b")
        // The error before the success is kept, but the group succeeded: no compound error.
        #expect(results.state == .succeeded)
        #expect(results.failures.map(\.description) == ["mirror-a: exited with status 6"])
        #expect(results.compoundError == nil)
        #expect(try results.get() == [2])
    }

    /// Succeeded at the first success: a request that comes while the
    /// clean-up runs stops the clean-up, not the group's success.
    @Test(.timeLimit(.minutes(1))) func aRequestAfterTheFirstSuccessLeavesItSucceeded() async throws {
        let control = GatherControl()
        let cleanUpStarted = Latch()
        async let gathered = gather([
            GatherTask<Int>("mirror-a") { _ in 1 },
            GatherTask("cleanup", finally: true) { _ in
                cleanUpStarted.open()
                try await Task.sleep(for: .seconds(30))
                return 2
            },
        ], options: GatherOptions(policy: .firstSuccess, control: control))
        await cleanUpStarted.wait()
        control.cancel(.cancelledByRequest)
        let results = try await gathered
        #expect(results.firstSuccess == "mirror-a")
        #expect(results.result("cleanup")?.outcome == .cancelled)
        #expect(results.state == .succeeded)
    }

    @Test func withNoSuccessTheGroupFailsWithEveryError() async throws {
        let results = try await gather([
            GatherTask<Int>("mirror-a") { _ in throw Boom("exited with status 6") },
            GatherTask("mirror-b") { _ in throw Boom("exited with status 7") },
            GatherTask("mirror-c", after: ["mirror-a"]) { _ in 3 },
        ], options: GatherOptions(policy: .firstSuccess))
        #expect(results.tasks.map(\.outcome) == [.failed, .failed, .skipped])
        #expect(results.firstSuccess == nil)
        #expect(results.state == .failed)
        #expect(results.compoundError?.description
            == "CompoundError, 2 errors [mirror-a: exited with status 6; mirror-b: exited with status 7] (1 skipped)")
    }

    @Test(.timeLimit(.minutes(1))) func aTaskWaitingToRetryIsSkipped() async throws {
        let willRetry = Latch()
        let clock = ContinuousClock()
        let begin = clock.now
        let results = try await gather([
            GatherTask<Int>("flaky", retries: 3, retryDelay: .seconds(30)) { _ in throw Boom("exited with status 23") },
            GatherTask("steady") { _ in await willRetry.wait(); return 2 },
        ], options: GatherOptions(policy: .firstSuccess, onEvent: { event in
            if case .attemptWillRetry = event { willRetry.open() }
        }))
        #expect(begin.duration(to: clock.now) < .seconds(20))
        #expect(results.result("flaky")?.outcome == .skipped)
        #expect(results.result("flaky")?.reason == .siblingSucceeded("steady"))
        #expect(results.result("flaky")?.attempts == 1)
        // An attempt that would have been retried is no error.
        #expect(results.failures.isEmpty)
        #expect(results.state == .succeeded)
    }

    @Test func anErrorOfACleanUpTaskFailsTheGroupWithEveryError() async throws {
        let badEnded = Latch()
        let results = try await gather([
            GatherTask<Int>("bad") { _ in throw Boom("exited with status 1") },
            GatherTask("good") { _ in await badEnded.wait(); return 2 },
            GatherTask("slow") { _ in try await Task.sleep(for: .seconds(60)); return 3 },
            GatherTask("cleanup", finally: true) { _ in throw Boom("exited with status 2") },
        ], options: GatherOptions(policy: .firstSuccess, onEvent: { event in
            if case .taskEnded(let result) = event, result.name == "bad" { badEnded.open() }
        }))
        #expect(results.tasks.map(\.outcome) == [.failed, .succeeded, .cancelled, .failed])
        #expect(results.firstSuccess == "good")
        #expect(results.state == .failed)
        #expect(results.compoundError?.description
            == "CompoundError, 2 errors [bad: exited with status 1; cleanup: exited with status 2] (1 cancelled)")
    }

    @Test func aCleanUpTaskSuccessIsNotTheFirstSuccess() async throws {
        let results = try await gather([
            GatherTask<Int>("only") { _ in throw Boom("exited with status 1") },
            GatherTask("cleanup", finally: true) { _ in 9 },
        ], options: GatherOptions(policy: .firstSuccess))
        #expect(results.tasks.map(\.outcome) == [.failed, .succeeded])
        #expect(results.firstSuccess == nil)
        #expect(results.state == .failed)
        #expect(results.compoundError?.description == "CompoundError, 1 error [only: exited with status 1]")
    }

    @Test func otherPoliciesHaveNoFirstSuccess() async throws {
        let results = try await gather([
            GatherTask<Int>("a") { _ in 1 },
            GatherTask("b") { _ in throw Boom("exited with status 1") },
        ], options: GatherOptions(policy: .collectAll))
        #expect(results.firstSuccess == nil)
        #expect(results.state == .failed)
        #expect(GatherPolicy(rawValue: "first-success") == .firstSuccess)
    }
}
