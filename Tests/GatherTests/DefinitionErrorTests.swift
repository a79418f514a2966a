import Testing
import Gather

/// Every definition the engine cannot run is a `GatherDefinitionError` naming
/// the task (or the options) and the field, thrown before anything starts —
/// never a trap. `maxParallel: 0` used to stop the process with "task x has no
/// outcome yet"; the out-of-range settings used to run.
@Suite("Definition errors") struct DefinitionErrorTests {
    /// Gathers one task with `options`, expecting the definition to be refused
    /// before the task runs; returns the problems.
    func refused(
        _ task: (@escaping @Sendable (GatherAttempt) async throws -> Int) -> GatherTask<Int>,
        options: GatherOptions = GatherOptions()
    ) async -> [GatherDefinitionError.Problem] {
        let ran = Recorder<String>()
        let definition = task { attempt in ran.append(attempt.task); return 1 }
        do {
            let results = try await gather([definition], options: options)
            Issue.record("the group ran: \(results.tasks.map(\.outcome))")
            return []
        } catch {
            #expect(ran.all.isEmpty, "a task of a refused group ran")
            return error.problems
        }
    }

    @Test(arguments: [0, -1, Int.min])
    func maxParallelBelowOne(limit: Int) async {
        let problems = await refused({ GatherTask("x", body: $0) }, options: GatherOptions(maxParallel: limit))
        #expect(problems.map(\.description) == ["options: maxParallel: must be at least 1, not \(limit)"])
        #expect(problems.first?.task == nil && problems.first?.field == "maxParallel")
    }

    @Test(arguments: [101, 200, -1])
    func retriesOutOfRange(retries: Int) async {
        let problems = await refused { GatherTask("fetch", retries: retries, body: $0) }
        #expect(problems.map(\.description) == ["task \"fetch\": retries: must be 0 … 100, not \(retries)"])
    }

    @Test func negativeOrSubMillisecondRetryDelay() async {
        let negative = await refused { GatherTask("fetch", retries: 1, retryDelay: .seconds(-1), body: $0) }
        #expect(negative.map(\.field) == ["retryDelay"])
        #expect(negative.first?.message.hasPrefix("must not be negative") == true)
        let tiny = await refused { GatherTask("fetch", retries: 1, retryDelay: .microseconds(500), body: $0) }
        #expect(tiny.map(\.field) == ["retryDelay"])
        #expect(tiny.first?.message.hasPrefix("must be 0 or at least 1ms") == true)
    }

    @Test(arguments: [Duration.zero, .microseconds(999), .nanoseconds(1), .seconds(-5)])
    func timeoutsBelowOneMillisecond(limit: Duration) async {
        let task = await refused { GatherTask("upload", timeout: limit, body: $0) }
        #expect(task.map(\.description) == ["task \"upload\": timeout: must be at least 1ms, not \(limit)"])
        let group = await refused({ GatherTask("upload", body: $0) }, options: GatherOptions(timeout: limit))
        #expect(group.map(\.description) == ["options: timeout: must be at least 1ms, not \(limit)"])
    }

    /// Every problem of a definition is reported at once, options first, then
    /// the tasks in order, the graph's problems last.
    @Test func everyProblemAtOnce() async {
        do {
            _ = try await gather([
                GatherTask<Int>("a", timeout: .zero) { _ in 1 },
                GatherTask("b", after: ["zz"], retries: 500) { _ in 2 },
            ], options: GatherOptions(maxParallel: 0))
            Issue.record("the group ran")
        } catch {
            #expect(error.problems.map(\.description) == [
                "options: maxParallel: must be at least 1, not 0",
                "task \"a\": timeout: must be at least 1ms, not 0.0 seconds",
                "task \"b\": retries: must be 0 … 100, not 500",
                "task \"b\": after: unknown task \"zz\"",
            ])
            #expect(error.graphProblems == [.unknownName(index: 1, position: 0, name: "zz")])
        }
    }

    /// The edges of each range are accepted: 0 and 1 ms delays, 100 retries,
    /// a 1 ms limit, one task at a time.
    @Test func theEdgesOfEachRangeRun() async throws {
        let results = try await gather([
            GatherTask<Int>("zero-delay", retries: 100, retryDelay: .zero) { _ in 1 },
            GatherTask("one-ms-delay", retries: 1, retryDelay: .milliseconds(1)) { _ in 2 },
            GatherTask("one-ms-limit", timeout: .milliseconds(1)) { _ in 3 },
        ], options: GatherOptions(maxParallel: 1, timeout: .seconds(60)))
        #expect(results.tasks.count == 3)
        #expect(results.value(named: "zero-delay") == 1)
        #expect(results.value(named: "one-ms-delay") == 2)
    }
}
