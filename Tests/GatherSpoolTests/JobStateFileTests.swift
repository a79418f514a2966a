import Gather
import Testing
@testable import GatherSpool

@Suite struct JobStateFileTests {
    /// state.json is interface (docs/state-json.md): every documented `status`
    /// reads as its case and writes back as the same string.
    @Test func taskStatusesKeepTheirStrings() throws {
        let documented = ["waiting", "running", "retrying"] + TaskOutcome.allCases.map(\.rawValue)
        let statuses = try documented.map { try #require(JobStateFile.TaskProgress.Status(rawValue: $0)) }
        let state = JobStateFile(
            id: "nb", file: "nb.json", name: "nb", policy: .failFast, uid: 1000, gid: 1000, user: "alice", runAs: "alice",
            phase: .running, receivedAt: Timestamp(millisecondsSinceEpoch: 1_795_575_600_120),
            tasks: statuses.map { .init(name: "t-\($0.rawValue)", status: $0, attempts: 1) })
        guard case .array(let tasks)? = state.json["tasks"] else { Issue.record("no tasks"); return }
        #expect(tasks.map { $0["status"] } == documented.map(JSONValue.string))
        let read = try #require(StrictJSONReader.read(state.json.serializedBytes()).value.flatMap(JobStateFile.init(json:)))
        #expect(read == state)
        #expect(read.tasks.map(\.status) == [.waiting, .running, .retrying] + TaskOutcome.allCases.map { .ended($0) })
        #expect(JobStateFile.TaskProgress.Status(rawValue: "paused") == nil)
    }
}
