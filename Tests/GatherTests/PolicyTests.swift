import Testing
import Gather

@Suite("Policies") struct PolicyTests {
    @Test func collectAllRunsEverythingAndLosesNoFailure() async throws {
        let bFinished = Latch()
        let results = try await gather([
            GatherTask<Int>("a") { _ in throw Boom("first") },
            GatherTask("b") { _ in await bFinished.wait(); return 2 },
            GatherTask("c") { _ in await bFinished.wait(); throw Boom("after the first") },
            GatherTask("d") { _ in 4 },
        ], options: GatherOptions(onEvent: { event in
            if case .firstError = event { bFinished.open() }
        }))
        #expect(results.tasks.map(\.outcome) == [.failed, .succeeded, .failed, .succeeded])
        #expect(results.successes.map(\.value) == [2, 4])
        #expect(results.state == .failed)
        #expect(results.firstError?.task == "a")
        #expect(results.compoundError?.description == "CompoundError, 2 errors [a: first; c: after the first]")
    }

    @Test func failFastLetsRunningTasksFinishAndSkipsTheRest() async throws {
        let firstError = Latch()
        let started = Recorder<String>()
        let results = try await gather([
            GatherTask<Int>("a") { _ in throw Boom("exited with status 1") },
            GatherTask("b") { _ in started.append("b"); await firstError.wait(); return 2 },
            GatherTask("c") { _ in started.append("c"); await firstError.wait(); throw Boom("late failure") },
            GatherTask("d") { _ in started.append("d"); return 4 },
        ], options: GatherOptions(policy: .failFast, maxParallel: 3, onEvent: { event in
            if case .firstError = event { firstError.open() }
        }))
        #expect(results.result("b")?.outcome == .succeeded)
        #expect(results.result("c")?.outcome == .failed)
        #expect(results.result("d")?.outcome == .skipped)
        #expect(results.result("d")?.reason == .siblingFailed("a"))
        #expect(!started.all.contains("d"))
        // The failure after the first is not lost.
        #expect(results.compoundError?.description
            == "CompoundError, 2 errors [a: exited with status 1; c: late failure] (1 skipped)")
    }

    @Test func cancelSiblingsStopsRunningTasksThroughTheHookAndSkipsTheRest() async throws {
        let stops = Recorder<StopRequest>()
        let bStarted = Latch()
        let results = try await gather([
            GatherTask<Int>("a") { _ in await bStarted.wait(); throw Boom("exited with status 1") },
            GatherTask("b") { attempt in
                bStarted.open()
                return try await stubbornBody(stops)(attempt)
            },
            GatherTask("c") { _ in try await Task.sleep(for: .seconds(60)); return 3 },
            GatherTask("d") { _ in 4 },
            GatherTask("e", after: ["a"]) { _ in 5 },
        ], options: GatherOptions(policy: .cancelSiblings, maxParallel: 3))
        #expect(results.tasks.map(\.outcome) == [.failed, .cancelled, .cancelled, .skipped, .skipped])
        #expect(stops.all == [.cancelled(.siblingFailed("a"))])
        #expect(results.result("b")?.reason == .siblingFailed("a"))
        #expect(results.result("c")?.reason == .siblingFailed("a"))
        #expect(results.result("d")?.reason == .siblingFailed("a"))
        #expect(results.result("e")?.reason == .dependencyDidNotSucceed("a"))
        // What the body reported after the stop is kept, but the outcome is the engine's.
        if case .success(let value)? = results.lastAttempts[1] { #expect(value == 143) } else { Issue.record("b's value lost") }
        #expect(results.compoundError?.description
            == "CompoundError, 1 error [a: exited with status 1] (2 cancelled, 2 skipped)")
    }

    @Test func successfulGroupHasNoCompoundError() async throws {
        let results = try await gather((0..<5).map { i in GatherTask("t\(i)") { _ in i * i } })
        #expect(results.state == .succeeded)
        #expect(results.compoundError == nil)
        #expect(try results.get() == [0, 1, 4, 9, 16])
    }

    @Test func maxParallelIsNeverExceeded() async throws {
        let gauge = ConcurrencyGauge()
        let results = try await gather((0..<40).map { i in
            GatherTask("t\(i)") { _ in
                gauge.enter()
                defer { gauge.leave() }
                try await Task.sleep(for: .milliseconds(5))
                return i
            }
        }, options: GatherOptions(maxParallel: 3))
        #expect(results.successes.count == 40)
        #expect(gauge.maximum == 3)
    }
}
