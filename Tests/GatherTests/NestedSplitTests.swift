import Testing
import Gather

/// `split` and `subgroup` over nested compound errors, against the examples
/// PEP 654 documents for `ExceptionGroup.split` and `subgroup`, adapted: a
/// nested exception group is a task whose error is a compound error.
@Suite("Nested compound errors") struct NestedSplitTests {
    struct TypeError: Error, CustomStringConvertible {
        let value: Int
        var description: String { "\(value)" }
    }
    struct ValueError: Error, CustomStringConvertible {
        let value: Int
        var description: String { "\(value)" }
    }
    struct OSError: Error, CustomStringConvertible {
        let value: Int
        var description: String { "\(value)" }
    }

    static func fail(_ task: String, _ error: any Error) -> TaskFailure {
        TaskFailure(task: task, error: error, outcome: .failed)
    }

    /// PEP 654's `eg`:
    /// `ExceptionGroup("one", [TypeError(1), ExceptionGroup("two", [TypeError(2), ValueError(3)]),
    /// ExceptionGroup("three", [OSError(4)])])`.
    static let eg = CompoundError(failures: [
        fail("a", TypeError(value: 1)),
        fail("two", CompoundError(failures: [fail("b", TypeError(value: 2)), fail("c", ValueError(value: 3))])),
        fail("three", CompoundError(failures: [fail("d", OSError(value: 4))], skipped: 1)),
    ], cancelled: 2)

    /// The nesting as text: `task:Type(value)` for a leaf, `task:[…]` for a nested group.
    static func shape(_ group: CompoundError?) -> String {
        guard let group else { return "nil" }
        return "[" + group.failures.map { failure in
            if let nested = failure.error as? CompoundError { return "\(failure.task):\(shape(nested))" }
            return "\(failure.task):\(type(of: failure.error))(\(failure.message))"
        }.joined(separator: ", ") + "]"
    }

    @Test func theExampleGroup() {
        #expect(Self.shape(Self.eg)
            == "[a:TypeError(1), two:[b:TypeError(2), c:ValueError(3)], three:[d:OSError(4)]]")
        #expect(Self.eg.description
            == "CompoundError, 3 errors [a: 1; two: CompoundError, 2 errors [b: 2; c: 3]; three: CompoundError, 1 error [d: 4] (1 skipped)] (2 cancelled)")
    }

    /// `type_errors = eg.subgroup(lambda e: isinstance(e, TypeError))`:
    /// `one [TypeError(1), two [TypeError(2)]]`.
    @Test func subgroupKeepsTheNesting() {
        let byType = Self.eg.subgroup(TypeError.self)
        #expect(Self.shape(byType) == "[a:TypeError(1), two:[b:TypeError(2)]]")
        let byPredicate = Self.eg.subgroup { $0.error is TypeError }
        #expect(Self.shape(byPredicate) == Self.shape(byType))
        // The group's own counts stay with the part.
        #expect(byType?.cancelled == 2)
    }

    /// `type_errors, other_errors = eg.split(lambda e: isinstance(e, TypeError))`:
    /// the rest is `one [two [ValueError(3)], three [OSError(4)]]`.
    @Test func splitKeepsTheNestingOnBothSides() {
        let (matching, rest) = Self.eg.split(TypeError.self)
        #expect(Self.shape(matching) == "[a:TypeError(1), two:[b:TypeError(2)]]")
        #expect(Self.shape(rest) == "[two:[c:ValueError(3)], three:[d:OSError(4)]]")
        // A nested group keeps its own counts.
        let three = rest?.failures.last?.error as? CompoundError
        #expect(three?.skipped == 1)
        #expect(rest?.cancelled == 2)
    }

    /// A condition that holds for a nested group takes it whole, as
    /// `eg.split(lambda e: isinstance(e, ExceptionGroup) and e.message == "two")` does.
    @Test func aConditionOnANestedGroupTakesItWhole() {
        let (matching, rest) = Self.eg.split { $0.task == "two" }
        #expect(Self.shape(matching) == "[two:[b:TypeError(2), c:ValueError(3)]]")
        #expect(Self.shape(rest) == "[a:TypeError(1), three:[d:OSError(4)]]")
    }

    /// `eg.subgroup(lambda e: True)` is the whole group, `eg.subgroup(lambda e: False)`
    /// is `None`; splitting by the group type itself gives the whole group.
    @Test func allAndNothing() {
        #expect(Self.shape(Self.eg.subgroup { _ in true }) == Self.shape(Self.eg))
        #expect(Self.eg.subgroup { _ in false } == nil)
        #expect(Self.eg.split { _ in false }.rest.map(Self.shape) == Self.shape(Self.eg))
        let (whole, none) = Self.eg.split(CompoundError.self)
        #expect(Self.shape(whole) == Self.shape(Self.eg) && none == nil)
        #expect(Self.eg.subgroup(CancellationError.self) == nil)
        // OSError sits two levels down.
        #expect(Self.shape(Self.eg.subgroup(OSError.self)) == "[three:[d:OSError(4)]]")
    }

    @Test func errorTypesAndLeavesLookThroughTheNesting() {
        #expect(Self.eg.errorTypes == [ErrorType(TypeError.self), ErrorType(ValueError.self), ErrorType(OSError.self)])
        #expect(Self.eg.leafFailures.map(\.task) == ["a", "b", "c", "d"])
    }

    /// A task that gathers a group of its own and throws its compound error:
    /// the outer results see the inner errors' types.
    @Test func aGatherInsideATask() async throws {
        let results = try await gather([
            GatherTask<Int>("outer-ok") { _ in 1 },
            GatherTask("inner") { _ in
                let inner = try await gather([
                    GatherTask<Int>("x") { _ in throw ValueError(value: 5) },
                    GatherTask("y") { _ in throw OSError(value: 6) },
                ])
                return try inner.get().count
            },
        ])
        #expect(results.errorTypes == [ErrorType(ValueError.self), ErrorType(OSError.self)])
        #expect(results.failures(ofType: OSError.self).map(\.task) == ["y"])
        let compound = try #require(results.compoundError)
        #expect(Self.shape(compound.subgroup(ValueError.self)) == "[inner:[x:ValueError(5)]]")
    }
}
