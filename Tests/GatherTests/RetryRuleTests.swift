import Testing
import Gather

@Suite("Retry rules") struct RetryRuleTests {
    /// Like the process layer's `retry_exit_codes`: only some errors are retried.
    static let onlyStatus23: @Sendable (TaskFailure) -> Bool = { $0.message == "exited with status 23" }

    @Test func anErrorTheRuleDoesNotListIsFinalAtOnce() async throws {
        let events = Recorder<GatherEvent>()
        let attempts = Recorder<Int>()
        let results = try await gather([
            GatherTask<Int>("fetch", retries: 3, retryDelay: .milliseconds(1), retryWhen: Self.onlyStatus23) { attempt in
                attempts.append(attempt.number)
                throw Boom("exited with status 1")
            },
        ], options: GatherOptions(onEvent: { events.append($0) }))
        #expect(attempts.all == [1])
        #expect(results.result("fetch")?.attempts == 1)
        #expect(!events.all.contains { if case .attemptWillRetry = $0 { true } else { false } })
        #expect(results.compoundError?.description == "CompoundError, 1 error [fetch: exited with status 1]")
    }

    @Test func aListedErrorIsRetriedUntilAnUnlistedOne() async throws {
        let results = try await gather([
            GatherTask<Int>("fetch", retries: 5, retryDelay: .milliseconds(1), retryWhen: Self.onlyStatus23) { attempt in
                if attempt.number < 3 { throw Boom("exited with status 23") }
                throw Boom("exited with status 4")
            },
        ])
        #expect(results.result("fetch")?.attempts == 3)
        #expect(results.result("fetch")?.outcome == .failed)
        #expect(results.compoundError?.description == "CompoundError, 1 error [fetch: exited with status 4]")
    }

    @Test(.timeLimit(.minutes(1))) func aTimeoutIsFinalWhenTheRuleSaysSo() async throws {
        let results = try await gather([
            GatherTask<Int>("slow", timeout: .milliseconds(50), retries: 2, retryDelay: .milliseconds(1),
                            retryWhen: Self.onlyStatus23) { _ in try await Task.sleep(for: .seconds(30)); return 1 },
        ])
        #expect(results.result("slow")?.outcome == .timedOut)
        #expect(results.result("slow")?.attempts == 1)
    }

    @Test func theDoubledDelayStopsAtItsCap() {
        let task = GatherTask<Int>("t", retryDelay: .seconds(1), retryDelayMax: .seconds(3)) { _ in 0 }
        #expect((1...5).map(task.delay(beforeRetry:)) == [.seconds(1), .seconds(2), .seconds(3), .seconds(3), .seconds(3)])
        // A first delay above the cap is cut to it.
        let long = GatherTask<Int>("t", retryDelay: .seconds(90), retryDelayMax: .seconds(60)) { _ in 0 }
        #expect(long.delay(beforeRetry: 1) == .seconds(60))
        // Without a cap given: 10 minutes.
        let plain = GatherTask<Int>("t", retryDelay: .seconds(300)) { _ in 0 }
        #expect((1...3).map(plain.delay(beforeRetry:)) == [.seconds(300), .seconds(600), .seconds(600)])
    }

    @Test func aNegativeOrSubMillisecondCapIsADefinitionError() async {
        let ran = Recorder<String>()
        for cap in [Duration.seconds(-1), .microseconds(10)] {
            do {
                _ = try await gather([
                    GatherTask<Int>("fetch", retries: 2, retryDelayMax: cap) { _ in ran.append("fetch"); return 1 },
                ])
                Issue.record("a cap of \(cap) was accepted")
            } catch {
                #expect(error.problems.map(\.field) == ["retryDelayMax"])
                #expect(error.problems.first?.task == "fetch")
            }
        }
        #expect(ran.all.isEmpty)
    }

    @Test func theEngineWaitsTheCappedDelays() async throws {
        let events = Recorder<GatherEvent>()
        let results = try await gather([
            GatherTask<Int>("flaky", retries: 3, retryDelay: .milliseconds(20), retryDelayMax: .milliseconds(30)) { attempt in
                if attempt.number < 4 { throw Boom("exited with status 23") }
                return 1
            },
        ], options: GatherOptions(onEvent: { events.append($0) }))
        let delays = events.all.compactMap { event -> Duration? in
            if case .attemptWillRetry(_, _, _, _, let delay) = event { return delay }
            return nil
        }
        #expect(delays == [.milliseconds(20), .milliseconds(30), .milliseconds(30)])
        #expect(results.result("flaky")?.outcome == .succeeded)
    }

    /// A retry that was due but found no free slot is still a task waiting
    /// to retry: a fail-fast stop keeps its last outcome and error.
    @Test(.timeLimit(.minutes(1))) func aDueRetryWithNoFreeSlotKeepsItsErrorAtAStop() async throws {
        let results = try await gather([
            GatherTask<Int>("flaky", retries: 1, retryDelay: .milliseconds(1)) { _ in throw Boom("exited with status 23") },
            GatherTask("long") { _ in
                try await Task.sleep(for: .milliseconds(200))
                throw Boom("exited with status 1")
            },
        ], options: GatherOptions(policy: .failFast, maxParallel: 1))
        #expect(results.result("flaky")?.outcome == .failed)
        #expect(results.result("flaky")?.attempts == 1)
        #expect(results.state == .failed)
        #expect(results.compoundError?.description
            == "CompoundError, 2 errors [flaky: exited with status 23; long: exited with status 1]")
    }
}
