import Foundation
import Testing
@testable import GatherSpool

/// A spool in a fresh temporary directory, with a staging directory beside it
/// where hostile entries are built before they are renamed or linked in.
final class TestSpool {
    let base: String
    var path: String { base + "/spool" }
    var stage: String { base + "/stage" }
    let spool: SpoolDirectory

    init(faults: (@Sendable (SpoolFaultPoint) -> Bool)? = nil) throws {
        var template = Array("/tmp/gather-spool-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SpoolError(.io, "mkdtemp") }
        base = String(cString: made)
        chmod(base, 0o755)
        mkdir(base + "/stage", 0o777)
        chmod(base + "/stage", 0o777)
        spool = try SpoolDirectory(path: base + "/spool", faultInjector: faults)
    }

    deinit {
        try? SpoolDirectory.removeTree(AT_FDCWD, Array(base.utf8), depth: 0)
    }

    /// A new instance on the same directory, as after a restart.
    func reopen() throws -> SpoolDirectory { try SpoolDirectory(path: path) }

    /// Writes a file in the staging directory with the owner and mode asked.
    @discardableResult
    func stageFile(_ name: String, _ text: String, owner: uid_t = 0, group: gid_t = 0, mode: mode_t = 0o644) -> String {
        let p = stage + "/" + name
        _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        chown(p, owner, group)
        chmod(p, mode)
        return p
    }

    /// Renames a staged entry into `incoming/`.
    func dropStaged(_ name: String, as target: String? = nil) {
        rename(stage + "/" + name, path + "/incoming/" + (target ?? name))
    }

    /// Stages and drops a job file.
    func drop(_ name: String, _ text: String, owner: uid_t = 0, group: gid_t = 0, mode: mode_t = 0o644) {
        stageFile(name, text, owner: owner, group: group, mode: mode)
        dropStaged(name)
    }

    func entries(_ area: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path + "/" + area)) ?? []).sorted()
    }

    /// Every terminal record: `area/ID`.
    func records() -> [String] {
        ["done", "failed", "rejected"].flatMap { a in entries(a).map { "\(a)/\($0)" } }
    }

    func lstatOf(_ p: String) -> stat? {
        var st = stat()
        return lstat(p, &st) == 0 ? st : nil
    }

    func json(_ p: String) -> JSONValue? {
        guard let data = FileManager.default.contents(atPath: p) else { return nil }
        return StrictJSONReader.read(Array(data)).value
    }
}

let isRoot = getuid() == 0
let validJob = #"{"name":"test job","tasks":[{"name":"a","command":["/bin/true"]}]}"#

/// A succeeded record for a claimed job.
func succeededRecord(_ job: ClaimedJob) -> JobRecord {
    JobRecord(id: job.id, name: job.state.name, file: job.state.file, state: .succeeded, policy: job.job.policy,
              uid: job.state.uid, gid: job.state.gid, user: job.state.user, runAs: job.runAs.name,
              receivedAt: job.state.receivedAt, startedAt: .now(), error: nil,
              tasks: job.job.tasks.map { .init(name: $0.name, outcome: .succeeded, exitStatus: 0, attempts: 1, startedAt: .now(), durationMS: 3) })
}
