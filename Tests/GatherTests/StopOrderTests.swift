import Dispatch
import Foundation
import Testing
import Gather

/// Stops that overlap: a deadline or an outside cancellation while a task
/// waits to retry, a second reason after the first, a stop after the work ended.
@Suite("Overlapping stops") struct StopOrderTests {
    @Test("a dependency named twice in after still waits for every dependency")
    func duplicateDependencyCountsOnce() async throws {
        let ran = Recorder<String>()
        let gate = Latch()
        let results = try await gather([
            GatherTask<Int>("a") { _ in 1 },
            GatherTask("b") { _ in await gate.wait(); throw Boom("exited with status 1") },
            GatherTask("c", after: ["a", "a", "b"]) { _ in ran.append("c"); return 3 },
            // Opens b's gate only once a has succeeded, so a ends first.
            GatherTask("opener", after: ["a"]) { _ in gate.open(); return 4 },
        ])
        #expect(ran.all.isEmpty)
        #expect(results.result("c")?.outcome == .skipped)
        #expect(results.result("c")?.reason == .dependencyDidNotSucceed("b"))
    }

    @Test("the job deadline while a task waits to retry: the others stop for the deadline, not for that task")
    func deadlineWhileRetrying() async throws {
        let stops = Recorder<StopRequest>()
        let started = Latch()
        let results = try await gather([
            GatherTask<Int>("a", retries: 1, retryDelay: .seconds(60)) { _ in throw Boom("exited with status 1") },
            GatherTask("b") { attempt in started.open(); return try await stubbornBody(stops)(attempt) },
            GatherTask("c", after: ["b"]) { _ in 3 },
        ], options: GatherOptions(policy: .cancelSiblings, timeout: .milliseconds(300)))
        #expect(stops.all == [.jobTimedOut(.milliseconds(300))])
        #expect(results.tasks.map(\.outcome) == [.failed, .timedOut, .skipped])
        #expect(results.result("c")?.reason == .jobTimedOut)
        #expect(results.compoundError?.description
            == "CompoundError, 2 errors [a: exited with status 1; b: timed out after 300ms (job timeout)] (1 skipped)")
    }

    @Test(
        "an outside cancellation while a task waits to retry gives every other task its reason",
        arguments: [GatherPolicy.failFast, .cancelSiblings])
    func cancelWhileRetrying(policy: GatherPolicy) async throws {
        let stops = Recorder<StopRequest>()
        let control = GatherControl()
        let bStarted = Latch()
        let aWaits = Latch()
        async let gathered = gather([
            GatherTask<Int>("a", retries: 1, retryDelay: .seconds(60)) { _ in throw Boom("exited with status 1") },
            GatherTask("b") { attempt in bStarted.open(); return try await stubbornBody(stops)(attempt) },
            GatherTask("c", after: ["b"]) { _ in 3 },
        ], options: GatherOptions(policy: policy, control: control, onEvent: { event in
            if case .attemptWillRetry = event { aWaits.open() }
        }))
        await bStarted.wait()
        await aWaits.wait()
        control.cancel(.daemonStopping)
        let results = try await gathered
        #expect(stops.all == [.cancelled(.daemonStopping)])
        #expect(results.tasks.map(\.outcome) == [.failed, .cancelled, .skipped])
        #expect(results.result("b")?.reason == .daemonStopping)
        #expect(results.result("c")?.reason == .daemonStopping)
        #expect(results.state == .failed)
    }

    @Test(
        "a stop of the daemon after a cancel request makes the group interrupted, whatever the order",
        arguments: [
            [TaskReason.cancelledByRequest, .daemonStopping],
            [.daemonStopping, .cancelledByRequest],
        ])
    func interruptedOutranksCancelled(reasons: [TaskReason]) async throws {
        let control = GatherControl()
        let started = Latch()
        let stopped = Latch()
        let release = Latch()
        async let gathered = gather([
            GatherTask<Int>("slow") { attempt in
                started.open()
                // Still stopping when the second reason comes.
                attempt.onStop { _ in stopped.open() }
                await release.wait()
                return 143
            },
        ], options: GatherOptions(control: control))
        await started.wait()
        control.cancel(reasons[0])
        await stopped.wait()
        control.cancel(reasons[1])
        release.open()
        let results = try await gathered
        #expect(results.state == .interrupted)
        #expect(results.result("slow")?.reason == reasons[0])
    }

    @Test("a stop requested after the work ended does not change the outcome or the duration")
    func stopAfterWorkEndedIsIgnored() async throws {
        let workEnded = Recorder<Date>()
        let results = try await gather([
            GatherTask<Int>("a", timeout: .milliseconds(100)) { attempt in
                attempt.workEnded()
                workEnded.append(Date())
                // Clean-up that outlasts the timeout and ignores Swift cancellation, as
                // stopping what a process left behind does.
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().asyncAfter(deadline: .now() + 1) { done.resume() }
                }
                return 1
            },
        ])
        let a = try #require(results.result("a"))
        #expect(a.outcome == .succeeded)
        // The attempt ended when the work did, not a second later when the body returned.
        let end = try #require(a.startedAt).addingTimeInterval(Double(try #require(a.duration).components.seconds)
            + Double(try #require(a.duration).components.attoseconds) / 1e18)
        let ended = try #require(workEnded.all.first)
        #expect(end.timeIntervalSince(ended) < 0.5, "ended \(end.timeIntervalSince(ended)) s after the work")
    }
}
