import Testing
import Gather

/// The stream of task ends beside the final results.
@Suite("Tasks as they end") struct TaskEndStreamTests {
    /// Each task waits for a latch of its own; the consumer opens the latches
    /// one at a time, in a shuffled order, each after the previous task's end
    /// came out of the stream — so the order the tasks end in is known. A
    /// failing task's dependent is skipped in the same step and follows it.
    @Test func everyResultOnceInTheOrderTheyEnded() async throws {
        let names = (0..<60).map { "t\($0)" } + ["bad"]
        var latches: [String: Latch] = [:]
        for name in names { latches[name] = Latch() }
        let gates = latches
        let order = names.shuffled()
        var expected: [String] = []
        for name in order {
            expected.append(name)
            if name == "bad" { expected.append("after-bad") }
        }
        let tasks = names.enumerated().map { index, name in
            GatherTask<Int>(name) { _ in
                await gates[name]!.wait()
                if name == "bad" { throw Boom("bad") }
                return index * 10
            }
        } + [GatherTask("after-bad", after: ["bad"]) { _ in -1 }]

        let seen = Recorder<GatherTaskEnd<Int>>()
        let results = try await gather(tasks) { ended in
            var next = 0
            gates[order[next]]!.open()
            next += 1
            for await task in ended {
                seen.append(task)
                if task.name != "after-bad", next < order.count {
                    gates[order[next]]!.open()
                    next += 1
                }
            }
        }
        let ends = seen.all
        #expect(ends.map(\.name) == expected)
        #expect(Set(ends.map(\.name)).count == tasks.count)
        for end in ends {
            #expect(end.result.name == results.tasks[end.index].name)
            #expect(end.outcome == results.tasks[end.index].outcome)
            #expect(end.value == results.value(named: end.name))
        }
        #expect(ends.first { $0.name == "bad" }?.outcome == .failed)
        #expect(ends.first { $0.name == "after-bad" }?.outcome == .skipped)
        #expect(ends.first { $0.name == "after-bad" }?.lastAttempt == nil)
        #expect(ends.first { $0.name == "t3" }?.value == 30)
    }

    /// Under cancel-siblings the cancelled and skipped tasks come through too,
    /// and the stream ends with the group.
    @Test func cancelledAndSkippedTasksAreStreamed() async throws {
        let gate = Latch()
        let seen = Recorder<String>()
        let results = try await gather([
            GatherTask<Int>("fails") { _ in await gate.wait(); throw Boom("no") },
            GatherTask("waits") { _ in try await Task.sleep(for: .seconds(30)); return 1 },
            GatherTask("later", after: ["waits"]) { _ in 2 },
        ], options: GatherOptions(policy: .cancelSiblings)) { ended in
            gate.open()
            for await task in ended { seen.append("\(task.name) \(task.outcome.rawValue)") }
        }
        #expect(seen.all.sorted() == ["fails failed", "later skipped", "waits cancelled"])
        #expect(seen.all.first == "fails failed")
        #expect(results.state == .failed)
    }

    /// A definition that cannot run throws before the consumer is started.
    @Test func aRefusedDefinitionStartsNoConsumer() async {
        let consumed = Recorder<String>()
        do {
            _ = try await gather([GatherTask<Int>("x", timeout: .zero) { _ in 1 }]) { ended in
                consumed.append("started")
                for await task in ended { consumed.append(task.name) }
            }
            Issue.record("a refused group ran")
        } catch {
            #expect(error.problems.map(\.field) == ["timeout"])
        }
        #expect(consumed.all.isEmpty)
    }
}
