import Testing
import Gather

@Suite("Results and texts") struct ResultsTests {
    @Test func compoundErrorTexts() {
        let one = CompoundError(failures: [TaskFailure(task: "dump-db", error: Boom("exited with status 1"), outcome: .failed)])
        #expect(one.description == "CompoundError, 1 error [dump-db: exited with status 1]")
        let two = CompoundError(failures: [
            TaskFailure(task: "dump-db", error: Boom("exited with status 1"), outcome: .failed),
            TaskFailure(task: "upload", error: GatherTimeout(limit: .seconds(5), isJobDeadline: false), outcome: .timedOut),
        ], cancelled: 1, skipped: 2)
        #expect(two.description
            == "CompoundError, 2 errors [dump-db: exited with status 1; upload: timed out after 5s] (1 cancelled, 2 skipped)")
        let onlySkipped = CompoundError(failures: one.failures, cancelled: 0, skipped: 3)
        #expect(onlySkipped.description == "CompoundError, 1 error [dump-db: exited with status 1] (3 skipped)")
    }

    /// A group the engine refuses is the job's one failure: gatherd's record and
    /// journal show this line for it.
    @Test func definitionErrorAsTheJobsFailure() {
        let refused = GatherDefinitionError(problems: [
            .init(task: "a", field: "after", message: "unknown task \"zz\""),
            .init(task: nil, field: "maxParallel", message: "must be at least 1, not 0"),
        ])
        let compound = CompoundError(failures: [TaskFailure(task: "job", error: refused, outcome: .failed)])
        #expect(compound.description
            == "CompoundError, 1 error [job: task \"a\": after: unknown task \"zz\"; options: maxParallel: must be at least 1, not 0]")
    }

    @Test func longCompoundLineIsCutForTheJournalOnly() {
        let failures = (1...150).map { TaskFailure(task: "t\($0)", error: Boom("x"), outcome: .failed) }
        let error = CompoundError(failures: failures, cancelled: 1)
        let cut = error.line(maxErrors: 100)
        #expect(cut.hasPrefix("CompoundError, 150 errors [t1: x; "))
        #expect(cut.hasSuffix("; t100: x; … and 50 more] (1 cancelled)"))
        #expect(error.description.contains("t150: x]"))
    }

    @Test func splitByErrorTypeAndTypesInOrder() async throws {
        let results = try await gather([
            GatherTask<Int>("a") { _ in throw Boom("a") },
            GatherTask("b") { _ in throw OtherError() },
            GatherTask("c") { _ in throw Boom("c") },
            GatherTask("d") { _ in 4 },
        ])
        #expect(results.errorTypes == [ErrorType(Boom.self), ErrorType(OtherError.self)])
        #expect(results.failures(ofType: Boom.self).map(\.task) == ["a", "c"])
        let compound = try #require(results.compoundError)
        let (boom, rest) = compound.split(Boom.self)
        #expect(boom?.failures.map(\.task) == ["a", "c"])
        #expect(rest?.failures.map(\.task) == ["b"])
        #expect(compound.split(CancellationError.self).matching == nil)
    }

    @Test func taskErrorsChooseTheirOutcome() async throws {
        struct Killed: GatherTaskError, CustomStringConvertible {
            var outcome: TaskOutcome { .killed }
            var description: String { "killed by signal SIGKILL" }
        }
        let results = try await gather([GatherTask<Int>("upload") { _ in throw Killed() }])
        #expect(results.tasks[0].outcome == .killed)
        #expect(results.failures.first?.description == "upload: killed by signal SIGKILL")
    }

    @Test func statePrecedence() {
        #expect(JobState.failed.precedence > JobState.interrupted.precedence)
        #expect(JobState.interrupted.precedence > JobState.cancelled.precedence)
        #expect(JobState.cancelled.precedence > JobState.succeeded.precedence)
    }

    @Test(arguments: [
        (Duration.milliseconds(300), "300ms"), (.milliseconds(1500), "1.5s"), (.seconds(90), "1m30s"),
        (.seconds(7200), "2h"), (.seconds(5), "5s"), (.milliseconds(1), "1ms"), (.milliseconds(61_001), "1m1.001s"),
        (.seconds(3600 + 1800), "1h30m"), (.milliseconds(0), "0ms"), (.milliseconds(1250), "1.25s"),
    ])
    func durationFormat(duration: Duration, text: String) {
        #expect(DurationText.format(duration) == text)
        #expect(DurationText.parse(text) == duration)
    }

    @Test func durationParseRejectsNonsense() {
        for bad in ["", "5", "s", "1.s", ".5s", "5 s", "-5s", "1e2s", "5x", "1m1m", "1.2.3s", "5sec"] {
            #expect(DurationText.parse(bad) == nil, "\(bad) should not parse")
        }
        #expect(DurationText.parse("250ms") == .milliseconds(250))
        #expect(DurationText.fromSeconds(1.5) == .milliseconds(1500))
        #expect(DurationText.fromSeconds(-1) == nil)
    }
}
