import Testing
import Gather

@Suite("Timeouts and retries") struct TimeoutRetryTests {
    @Test(.timeLimit(.minutes(1))) func taskTimeoutCancelsOnlyThatTask() async throws {
        let stops = Recorder<StopRequest>()
        let clock = ContinuousClock()
        let begin = clock.now
        let results = try await gather([
            GatherTask<Int>("slow", timeout: .milliseconds(100)) { _ in try await Task.sleep(for: .seconds(30)); return 1 },
            GatherTask("stubborn", timeout: .milliseconds(150), body: stubbornBody(stops)),
            GatherTask("quick") { _ in try await Task.sleep(for: .milliseconds(300)); return 3 },
        ])
        #expect(begin.duration(to: clock.now) < .seconds(10))
        #expect(results.tasks.map(\.outcome) == [.timedOut, .timedOut, .succeeded])
        #expect(stops.all == [.timedOut(.milliseconds(150))])
        #expect(results.compoundError?.description
            == "CompoundError, 2 errors [slow: timed out after 100ms; stubborn: timed out after 150ms]")
    }

    @Test(.timeLimit(.minutes(1))) func jobDeadlineStopsRunningAndSkipsWaiting() async throws {
        let results = try await gather([
            GatherTask<Int>("fetch") { _ in try await Task.sleep(for: .seconds(30)); return 1 },
            GatherTask("after-fetch", after: ["fetch"]) { _ in 2 },
            GatherTask("queued") { _ in 3 },
        ], options: GatherOptions(maxParallel: 1, timeout: .milliseconds(200)))
        #expect(results.tasks.map(\.outcome) == [.timedOut, .skipped, .skipped])
        #expect(results.result("queued")?.reason == .jobTimedOut)
        #expect(results.state == .failed)
        #expect(results.compoundError?.description
            == "CompoundError, 1 error [fetch: timed out after 200ms (job timeout)] (2 skipped)")
    }

    @Test(.timeLimit(.minutes(1))) func jobDeadlineWithNothingRunningAddsTheJobError() async throws {
        let results = try await gather([
            GatherTask<Int>("flaky", retries: 3, retryDelay: .seconds(20)) { _ in throw Boom("exited with status 23") },
        ], options: GatherOptions(timeout: .milliseconds(150)))
        #expect(results.result("flaky")?.outcome == .failed)
        #expect(results.result("flaky")?.attempts == 1)
        #expect(results.jobFailure?.description == "job: timed out after 150ms")
        #expect(results.compoundError?.description
            == "CompoundError, 2 errors [flaky: exited with status 23; job: timed out after 150ms]")
    }

    @Test func retriesUntilSuccessWithDoublingDelays() async throws {
        let events = Recorder<GatherEvent>()
        let attempts = Recorder<Int>()
        let results = try await gather([
            GatherTask<Int>("flaky", retries: 3, retryDelay: .milliseconds(10)) { attempt in
                attempts.append(attempt.number)
                if attempt.number < 3 { throw Boom("exited with status 23") }
                return 7
            },
        ], options: GatherOptions(policy: .failFast, onEvent: { events.append($0) }))
        #expect(attempts.all == [1, 2, 3])
        #expect(results.result("flaky")?.outcome == .succeeded)
        #expect(results.result("flaky")?.attempts == 3)
        let retries = events.all.compactMap { event -> (Int, Int, Duration)? in
            if case .attemptWillRetry(_, _, let retry, let of, let delay) = event { return (retry, of, delay) }
            return nil
        }
        #expect(retries.map(\.0) == [1, 2])
        #expect(retries.map(\.1) == [3, 3])
        #expect(retries.map(\.2) == [.milliseconds(10), .milliseconds(20)])
        // An attempt that will be retried is no error: fail-fast never tripped.
        #expect(!events.all.contains { if case .firstError = $0 { true } else { false } })
        #expect(results.state == .succeeded)
    }

    @Test func outcomeIsTheLastAttempts() async throws {
        let results = try await gather([
            GatherTask<Int>("always", retries: 2, retryDelay: .milliseconds(1)) { attempt in
                throw Boom("attempt \(attempt.number) failed")
            },
        ])
        #expect(results.result("always")?.attempts == 3)
        #expect(results.compoundError?.description == "CompoundError, 1 error [always: attempt 3 failed]")
    }

    @Test func retryDelayDoublesUpToTenMinutes() {
        let task = GatherTask<Int>("t", retryDelay: .seconds(5)) { _ in 0 }
        #expect(task.delay(beforeRetry: 1) == .seconds(5))
        #expect(task.delay(beforeRetry: 2) == .seconds(10))
        #expect(task.delay(beforeRetry: 4) == .seconds(40))
        #expect(task.delay(beforeRetry: 30) == .seconds(600))
    }
}
