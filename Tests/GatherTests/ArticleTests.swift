#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
import Gather

// The code of the library's overview article (Gather.docc/GatheringTasks.md),
// run. Each region between `// article: NAME` and `// end` is one code block
// of the article, verbatim once its indentation is taken off;
// `theArticleShowsThisCode` checks that the article's blocks are exactly
// these regions, in this order, so the article cannot drift from code that
// compiles and runs.

// article: definitions
struct ValueError: Error, CustomStringConvertible {
    var text = ""
    var description: String { text }
}

func good(_ attempt: GatherAttempt) async throws -> String {
    "OK"
}

func bad(_ attempt: GatherAttempt) async throws -> String {
    throw ValueError(text: "Bad value")
}
// end

func gatheredExample() async throws -> GatheredResults<String> {
    // article: gather
    let response = try await gather([
        GatherTask("good-1", body: good),
        GatherTask("bad", body: bad),
        GatherTask("good-2", body: good),
    ])
    // end
    return response
}

@Suite("The overview article's code") struct ArticleTests {
    @Test func successes() async throws {
        let response = try await gatheredExample()
        // article: successes
        let values = response.successes.map(\.value)
        // ["OK", "OK"]
        // end
        #expect(values == ["OK", "OK"])
        #expect(response.successes.map(\.name) == ["good-1", "good-2"])
    }

    @Test func exceptions() async throws {
        let response = try await gatheredExample()
        // article: exceptions
        let lines = response.failures.map(\.description)
        // ["bad: Bad value"]
        // end
        #expect(lines == ["bad: Bad value"])
    }

    @Test func exceptionTypes() async throws {
        let response = try await gatheredExample()
        // article: exception types
        let types = response.errorTypes.map(\.description)
        // ["ValueError"]
        let valueErrors = response.failures(ofType: ValueError.self).map(\.task)
        // ["bad"]
        // end
        #expect(types == ["ValueError"])
        #expect(valueErrors == ["bad"])
    }

    @Test func compoundException() async throws {
        let response = try await gatheredExample()
        // article: compound
        let line = response.compoundError?.description
        // "CompoundError, 1 error [bad: Bad value]"
        // end
        #expect(line == "CompoundError, 1 error [bad: Bad value]")
        // article: get
        let all = Result { try response.get() }
        // .failure: the CompoundError above
        // end
        guard case .failure(let error) = all else {
            Issue.record("get() returned values despite a failure")
            return
        }
        #expect(error is CompoundError && "\(error)" == line)
    }

    @Test func policies() async throws {
        // article: policies
        let deploy = try await gather([
            GatherTask("build", body: bad),
            GatherTask("test", after: ["build"], body: good),
        ], options: GatherOptions(policy: .failFast))
        let test = deploy.task(named: "test")
        // outcome .skipped, reason "build did not succeed"
        // end
        #expect(test?.outcome == .skipped)
        #expect(test?.reason?.description == "build did not succeed")
    }

    @Test func valuesByNameAndType() async throws {
        // article: types
        let page = GatherTask("page") { _ in "<html>" }
        let size = GatherTask("size") { _ in 42 }
        let both = try await gather(page, size)
        let text = both[page]
        let bytes = both[size]
        // "<html>" and 42, each with its own type
        // end
        let typed: (String?, Int?) = (text, bytes)
        #expect(typed.0 == "<html>" && typed.1 == 42)
    }

    @Test func nested() async throws {
        // article: nested
        let nested = try await gather([
            GatherTask("outer", body: bad),
            GatherTask("inner") { _ in
                try await gather([
                    GatherTask("one", body: bad),
                    GatherTask("two", body: good),
                ]).get().joined()
            },
        ])
        let (valueErrors, rest) = nested.compoundError!.split(ValueError.self)
        // valueErrors: "outer", and "inner" holding "one"; rest: nil
        // end
        #expect(valueErrors?.failures.map(\.task) == ["outer", "inner"])
        #expect((valueErrors?.failures.last?.error as? CompoundError)?.failures.map(\.task) == ["one"])
        #expect(rest == nil)
    }

    @Test func asTasksEnd() async throws {
        // article: stream
        let streamed = try await gather([
            GatherTask("good", body: good),
            GatherTask("bad", body: bad),
        ]) { ended in
            for await task in ended {
                print(task.name, task.outcome)
            }
        }
        // end
        #expect(streamed.tasks.map(\.outcome) == [.succeeded, .failed])
    }

    @Test func definitionErrors() async throws {
        // article: definition
        var problem = ""
        do {
            _ = try await gather([GatherTask("fetch", retries: 200, body: good)])
        } catch {
            problem = error.description
            // task "fetch": retries: must be 0 … 100, not 200
        }
        // end
        #expect(problem == "task \"fetch\": retries: must be 0 … 100, not 200")
    }

    /// The article's code blocks are these regions, verbatim, in order.
    @Test func theArticleShowsThisCode() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let article = try String(
            contentsOf: root.appendingPathComponent("Sources/Gather/Gather.docc/GatheringTasks.md"), encoding: .utf8)
        let source = try String(contentsOf: here, encoding: .utf8)
        let blocks = Self.codeBlocks(article)
        let regions = Self.regions(source)
        #expect(regions.count == 12)
        #expect(blocks.count == regions.count, "the article has \(blocks.count) code blocks, this file \(regions.count) regions")
        for (index, (block, region)) in zip(blocks, regions).enumerated() {
            #expect(block == region, "article block \(index + 1) differs from region \(index + 1)")
        }
    }

    /// The bodies of the article's ```swift blocks.
    static func codeBlocks(_ text: String) -> [String] {
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```swift" {
                current = []
            } else if current != nil, line == "```" {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    /// The regions between `// article:` and `// end`, their common indentation taken off.
    static func regions(_ text: String) -> [String] {
        var regions: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " }
            if trimmed.hasPrefix("// article: "), !trimmed.contains("\"") {
                current = []
            } else if current != nil, trimmed == "// end" {
                let indent = current!.filter { !$0.isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
                regions.append(current!.map { $0.dropFirst(min(indent, $0.count)) }.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(line)
            }
        }
        return regions
    }
}
