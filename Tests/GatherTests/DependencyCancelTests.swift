import Testing
import Gather

@Suite("Dependencies and cancellation") struct DependencyCancelTests {
    @Test func dependentsStartOnlyAfterSuccessAndAreSkippedOtherwise() async throws {
        let order = Recorder<String>()
        let results = try await gather([
            GatherTask<Int>("prune", after: ["dump", "sync"]) { _ in order.append("prune"); return 0 },
            GatherTask("dump") { _ in order.append("dump"); return 1 },
            GatherTask("sync") { _ in try await Task.sleep(for: .milliseconds(20)); order.append("sync"); return 2 },
            GatherTask("report", after: ["broken"]) { _ in order.append("report"); return 3 },
            GatherTask("broken") { _ in throw Boom("exited with status 2") },
            GatherTask("mail", after: ["report"]) { _ in order.append("mail"); return 4 },
        ])
        #expect(order.all.last == "prune")
        #expect(!order.all.contains("report") && !order.all.contains("mail"))
        #expect(results.result("prune")?.outcome == .succeeded)
        #expect(results.result("report")?.reason == .dependencyDidNotSucceed("broken"))
        #expect(results.result("mail")?.reason == .dependencyDidNotSucceed("report"))
        #expect(results.result("report")?.reason?.description == "broken did not succeed")
        #expect(results.compoundError?.description == "CompoundError, 1 error [broken: exited with status 2] (2 skipped)")
    }

    @Test func aLongChainRunsInOrder() async throws {
        let count = 2_000
        let tasks = (0..<count).map { i in
            GatherTask<Int>("t\(i)", after: i == 0 ? [] : ["t\(i - 1)"]) { _ in i }
        }
        let results = try await gather(tasks)
        #expect(results.successes.map(\.value) == Array(0..<count))
    }

    @Test func cyclesUnknownNamesAndDuplicatesAreRejectedBeforeAnythingRuns() async {
        let ran = Recorder<String>()
        func body(_ name: String) -> @Sendable (GatherAttempt) async throws -> Int {
            { _ in ran.append(name); return 0 }
        }
        do {
            _ = try await gather([
                GatherTask("a", after: ["c"], body: body("a")),
                GatherTask("b", after: ["a"], body: body("b")),
                GatherTask("c", after: ["b"], body: body("c")),
                GatherTask("d", after: ["nope", "d"], body: body("d")),
                GatherTask("a", body: body("a2")),
            ])
            Issue.record("an invalid group ran")
        } catch {
            #expect(error.graphProblems.contains(.unknownName(index: 3, position: 0, name: "nope")))
            #expect(error.graphProblems.contains(.selfReference(index: 3, position: 1)))
            #expect(error.graphProblems.contains(.duplicateName(index: 4, name: "a")))
            #expect(error.graphProblems.contains { if case .cycle(_, let path) = $0 { path.count == 4 } else { false } })
            // Each problem names the task and the field.
            #expect(error.problems.contains { $0.description == "task \"d\": after: unknown task \"nope\"" })
            #expect(error.problems.contains { $0.task == "a" && $0.field == "name" })
        }
        #expect(ran.all.isEmpty)
    }

    @Test(arguments: [(TaskReason.cancelledByRequest, JobState.cancelled), (.daemonStopping, .interrupted)])
    func outsideCancellationWithAReason(reason: TaskReason, state: JobState) async throws {
        let control = GatherControl()
        let stops = Recorder<StopRequest>()
        let started = Latch()
        async let results = gather([
            GatherTask<Int>("done") { _ in 1 },
            GatherTask("running") { attempt in started.open(); return try await stubbornBody(stops)(attempt) },
            GatherTask("later", after: ["running"]) { _ in 3 },
        ], options: GatherOptions(control: control))
        await started.wait()
        control.cancel(reason)
        let gathered = try await results
        #expect(gathered.tasks.map(\.outcome) == [.succeeded, .cancelled, .skipped])
        #expect(stops.all == [.cancelled(reason)])
        #expect(gathered.result("running")?.reason == reason)
        #expect(gathered.state == state)
        #expect(gathered.compoundError == nil)
    }

    @Test func cancellingTheCallerCancelsTheGroup() async throws {
        let started = Latch()
        let task = Task {
            try await gather([
                GatherTask<Int>("sleeper") { _ in started.open(); try await Task.sleep(for: .seconds(60)); return 1 },
                GatherTask("queued") { _ in 2 },
            ], options: GatherOptions(maxParallel: 1))
        }
        await started.wait()
        task.cancel()
        let results = try await task.value
        #expect(results.tasks.map(\.outcome) == [.cancelled, .skipped])
        #expect(results.state == .cancelled)
    }

    @Test func aSharedPoolIsNeverExceededAndServesGroupsInTurn() async throws {
        let pool = TaskSlotPool(slots: 2)
        let gauge = ConcurrencyGauge()
        let starts = Recorder<String>()
        func group(_ name: String) -> [GatherTask<Int>] {
            (0..<12).map { i in
                GatherTask("\(name)\(i)") { _ in
                    starts.append(name)
                    gauge.enter()
                    defer { gauge.leave() }
                    try await Task.sleep(for: .milliseconds(5))
                    return i
                }
            }
        }
        async let a = gather(group("a"), options: GatherOptions(slotPool: pool))
        async let b = gather(group("b"), options: GatherOptions(slotPool: pool))
        let (ra, rb) = try await (a, b)
        #expect(ra.successes.count == 12 && rb.successes.count == 12)
        #expect(gauge.maximum <= 2)
        #expect(pool.available == 2)
        // Round-robin: neither group runs all of its tasks before the other gets going.
        let firstHalf = starts.all.prefix(12)
        #expect(firstHalf.filter { $0 == "a" }.count >= 4)
        #expect(firstHalf.filter { $0 == "b" }.count >= 4)
    }
}
