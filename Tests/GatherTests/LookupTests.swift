import Testing
import Gather

/// One task's value by name, and tasks of different value types in one group.
@Suite("Results by name and by task") struct LookupTests {
    @Test func everyTaskByName() async throws {
        let results = try await gather((0..<2000).map { i in
            GatherTask<Int>("t\(i)") { _ in
                if i % 100 == 7 { throw Boom("bad \(i)") }
                return i * 3
            }
        })
        for i in 0..<2000 {
            #expect(results.position(of: "t\(i)") == i)
            #expect(results.task(named: "t\(i)")?.outcome == (i % 100 == 7 ? .failed : .succeeded))
            #expect(results.value(named: "t\(i)") == (i % 100 == 7 ? nil : i * 3))
        }
        #expect(results.position(of: "t2000") == nil)
        #expect(results.value(named: "nope") == nil)
        #expect(results.task(named: "nope") == nil)
        let failed = try #require(results.lastAttempt(named: "t107"))
        #expect(throws: Boom.self) { try failed.get() }
    }

    /// A group of tasks with different value types, Void among them, keeps
    /// every value with its own type; the tasks are the typed handles.
    @Test func tasksOfDifferentTypes() async throws {
        let page = GatherTask("page") { _ in "<html>" }
        let size = GatherTask("size", after: ["page"]) { _ in 42 }
        let touched = GatherTask("touch") { _ in () }
        let broken = GatherTask<Double>("broken") { _ in throw Boom("no") }
        let results = try await gather(page, size, touched, broken)
        let text: String? = results[page]
        let bytes: Int? = results[size]
        #expect(text == "<html>")
        #expect(bytes == 42)
        #expect(results[touched] != nil)
        #expect(results[broken] == nil)
        #expect(results.tasks.map(\.name) == ["page", "size", "touch", "broken"])
        #expect(results.compoundError?.description == "CompoundError, 1 error [broken: no]")

        // The same through an array of erased tasks.
        let again = try await gather([page.erased, size.erased], options: GatherOptions(maxParallel: 1))
        #expect(again[page] == "<html>" && again[size] == 42)
        #expect(again.successes.count == 2)
    }

    /// `erased` keeps every setting of the task.
    @Test func erasedKeepsTheSettings() async throws {
        let counter = Recorder<Int>()
        let flaky = GatherTask<Int>("flaky", timeout: .seconds(5), retries: 2, retryDelay: .milliseconds(1)) { attempt in
            counter.append(attempt.number)
            if attempt.number < 3 { throw Boom("try again") }
            return 7
        }
        let erased = flaky.erased
        #expect(erased.name == "flaky" && erased.retries == 2 && erased.timeout == .seconds(5))
        #expect(erased.retryDelay == .milliseconds(1))
        let results = try await gather([erased, GatherTask("last", after: ["flaky"]) { _ in 0 }])
        #expect(results[flaky] == 7)
        #expect(counter.all == [1, 2, 3])
        #expect(results.task(named: "last")?.outcome == .succeeded)
    }
}
