import Foundation
import GatherTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What the behaviour tests need beyond dropping jobs: cancel requests, files
/// written in place, a folder tasks of any user can write in, the entries a
/// daemon sent, and polling for what happens while it runs.
extension DaemonHarness {
    /// The uid (and primary gid) of `nobody` on Debian: a second, unprivileged submitter.
    static let nobody: uid_t = 65534

    /// Drops a cancel request `cancel/ID` owned by `owner`: written as a
    /// dotfile (ignored), chowned, then renamed in, so the daemon never sees
    /// it with the wrong owner. Creates `cancel/` when the daemon has not yet.
    func cancel(_ id: String, owner: uid_t = 0) throws {
        let directory = spool + "/cancel"
        if !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            chmod(directory, 0o700)
        }
        let temporary = directory + "/.\(id).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
            throw FixtureError(what: "create \(temporary)", output: String(cString: strerror(errno)))
        }
        chown(temporary, owner, gid_t(owner))
        guard rename(temporary, directory + "/" + id) == 0 else {
            throw FixtureError(what: "rename cancel \(id)", output: String(cString: strerror(errno)))
        }
    }

    /// Whether the cancel request `cancel/ID` is still there.
    func cancelRequestExists(_ id: String) -> Bool {
        FileManager.default.fileExists(atPath: spool + "/cancel/" + id)
    }

    /// Writes `bytes` to `incoming/NAME` in place (no rename), so the daemon
    /// sees it only when it is closed (`IN_CLOSE_WRITE`); `name` may hold
    /// any bytes but `/` and NUL.
    func dropInPlace(name: [UInt8], _ json: String) throws {
        let path = Array((spool + "/incoming/").utf8) + name + [0]
        let fd = path.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            }
        }
        guard fd >= 0 else { throw FixtureError(what: "create incoming file", output: String(cString: strerror(errno))) }
        let file = OpenJobFile(fd: fd)
        try file.write(json)
        file.close()
    }

    /// Creates `incoming/ID.json` and writes `json` but keeps it open: the
    /// daemon must not claim it until ``OpenJobFile/close()``.
    func openInPlace(_ id: String, _ json: String) throws -> OpenJobFile {
        let fd = open(spool + "/incoming/\(id).json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FixtureError(what: "create \(id).json", output: String(cString: strerror(errno))) }
        let file = OpenJobFile(fd: fd)
        try file.write(json)
        return file
    }

    /// A folder every task can write in whatever user it runs as (mode 1777),
    /// outside the spool so the daemon's own checks never see it.
    /// The harness removes it with the spool.
    func scratch() throws -> String {
        try FileManager.default.createDirectory(atPath: scratchPath, withIntermediateDirectories: true)
        chmod(scratchPath, 0o1777)
        return scratchPath
    }

    var scratchPath: String { NSTemporaryDirectory() + "gatherd-it-scratch-" + prefix }

    /// Every entry the daemon process `pid` sent, read back from journald.
    func entries(fromDaemon pid: pid_t) throws -> [ReadBackEntry] {
        DaemonStarts.sinceStart(of: pid, try TestJournald.readBack(match: ["_PID=\(pid)", "SYSLOG_IDENTIFIER=gatherd"]))
    }
}

/// A job file the test holds open while the daemon runs.
final class OpenJobFile: @unchecked Sendable {
    private var fd: Int32

    init(fd: Int32) { self.fd = fd }

    func write(_ text: String) throws {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let count = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw FixtureError(what: "write job file", output: String(cString: strerror(errno))) }
            done += count
        }
    }

    /// Closes the file: `IN_CLOSE_WRITE`, the daemon claims it.
    func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }

    deinit { close() }
}

extension JobRecordJSON {
    /// A timestamp field of the record (`received_at`, `started_at`, `finished_at`), in ms since the epoch.
    func time(_ field: String) -> Int64? { Self.milliseconds(object[field] as? String) }

    /// The `started_at` of task `name`, in ms since the epoch.
    func taskStart(_ name: String) -> Int64? { Self.milliseconds(task(name)?["started_at"] as? String) }

    var run: String? { object["run"] as? String }

    /// Parses the record's `2026-11-25T03:00:00.120Z` form.
    static func milliseconds(_ text: String?) -> Int64? {
        guard let text else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: text) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
