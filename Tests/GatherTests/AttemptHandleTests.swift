import Testing
import Gather

/// `GatherAttempt` is a handle into its group's table of attempts: these pin
/// down what a handle kept past its attempt, or from an earlier attempt, does.
@Suite("Attempt handles") struct AttemptHandleTests {
    @Test func aHandleKeptPastItsAttemptTakesNoHookAndReportsNoStop() async throws {
        let kept = Recorder<GatherAttempt>()
        let results = try await gather([
            GatherTask<Int>("a") { attempt in kept.append(attempt); return attempt.number }
        ])
        #expect(results.value(named: "a") == 1)
        let attempt = try #require(kept.all.first)
        #expect(attempt.task == "a" && attempt.number == 1)
        let hooks = Recorder<StopRequest>()
        attempt.onStop { hooks.append($0) }
        #expect(attempt.stopRequest == nil)
        #expect(attempt.workEnded() == nil)
        #expect(hooks.all.isEmpty)
    }

    @Test func anEarlierAttemptsHandleDoesNotReachTheRetry() async throws {
        let first = Recorder<GatherAttempt>()
        let stops = Recorder<StopRequest>()
        let results = try await gather([
            GatherTask<Int>("flaky", timeout: .milliseconds(300), retries: 1, retryDelay: .zero) { attempt in
                if attempt.number == 1 {
                    first.append(attempt)
                    throw Boom("exited with status 1")
                }
                // The first attempt's handle, used while the retry runs: its
                // hook must not be taken for this attempt, nor its end count.
                let stale = try #require(first.all.first)
                stale.onStop { stops.append($0) }
                #expect(stale.workEnded() == nil)
                #expect(stale.stopRequest == nil)
                // This attempt still times out through its own hook.
                let latch = Latch()
                attempt.onStop { request in stops.append(request); latch.open() }
                await latch.wait()
                return 2
            }
        ])
        #expect(results.tasks[0].outcome == .timedOut)
        #expect(results.tasks[0].attempts == 2)
        #expect(stops.all == [.timedOut(.milliseconds(300))])
    }

    @Test func stopsReachEveryRunningAttemptOfALargeGroupOnce() async throws {
        let stops = Recorder<String>()
        let count = 2_000
        let tasks = (0..<count).map { i in
            GatherTask<Int>("t\(i)") { attempt in
                if i == 0 { throw Boom("exited with status 1") }
                let latch = Latch()
                attempt.onStop { _ in stops.append(attempt.task); latch.open() }
                await latch.wait()
                return i
            }
        }
        let results = try await gather(tasks, options: GatherOptions(policy: .cancelSiblings))
        #expect(results.cancelledCount + results.skippedCount == count - 1)
        #expect(stops.all.count == results.cancelledCount)
        #expect(Set(stops.all).count == stops.all.count)
    }
}

@Suite("Duplicate names") struct DuplicateNameTests {
    func duplicates(_ names: [String]) async -> [Int] {
        do {
            _ = try await gather(names.map { GatherTask<Int>($0) { _ in 0 } })
            return []
        } catch {
            return error.graphProblems.compactMap {
                if case .duplicateName(let index, _) = $0 { index } else { nil }
            }
        }
    }

    @Test func everyRepeatIsFoundInALargeGroup() async {
        var names = (0..<50_000).map { "task-\($0)" }
        names += ["task-7", "task-49999", "task-0", "task-7"]
        #expect(await duplicates(names) == [50_000, 50_001, 50_002, 50_003])
    }

    @Test func namesThatDifferOnlyInLengthOrInALongTailAreDistinct() async {
        let long = String(repeating: "x", count: 40)
        #expect(await duplicates(["a", "aa", "aaa", long + "1", long + "2", long, "", "b"]).isEmpty)
        #expect(await duplicates(["", "a", ""]) == [2])
    }

    /// Swift compares strings by canonical equivalence: "é" written as one
    /// scalar and as "e" plus a combining accent are the same name.
    @Test func canonicallyEquivalentNamesAreDuplicates() async {
        #expect(await duplicates(["caf\u{E9}", "other", "cafe\u{301}"]) == [2])
        #expect(await duplicates(["\u{C5}", "\u{212B}"]) == [1])
    }
}

/// A task keeps the settings few tasks change in one shared box, replaced on
/// each change: a copy of a task must not see the changes of another.
@Suite("Task settings") struct TaskSettingsTests {
    @Test func settingsSetAfterTheInitAreKeptPerCopyAndApplied() async throws {
        var flaky = GatherTask<Int>("flaky") { attempt in
            if attempt.number < 3 { throw Boom("exited with status 1") }
            return attempt.number
        }
        let untouched = flaky
        flaky.retries = 2
        flaky.retryDelay = .zero
        flaky.timeout = .seconds(5)
        flaky.after = ["first"]
        #expect(flaky.retries == 2 && flaky.retryDelay == .zero && flaky.timeout == .seconds(5))
        #expect(untouched.retries == 0 && untouched.retryDelay == .seconds(1) && untouched.timeout == nil)
        #expect(untouched.after.isEmpty && !untouched.isFinally && untouched.retryDelayMax == .seconds(600))
        var cleanUp = GatherTask<Int>("clean") { _ in 0 }
        cleanUp.isFinally = true
        let results = try await gather([GatherTask<Int>("first") { _ in 1 }, flaky, cleanUp])
        #expect(results.value(named: "flaky") == 3)
        #expect(results.task(named: "flaky")?.attempts == 3)
        #expect(results.task(named: "clean")?.isFinally == true)
        // Back to the defaults, and through `erased`.
        flaky.after = []
        flaky.timeout = nil
        #expect(flaky.erased.retries == 2 && flaky.erased.after.isEmpty && flaky.erased.timeout == nil)
    }
}
