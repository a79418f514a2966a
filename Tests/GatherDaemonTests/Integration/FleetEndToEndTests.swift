import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// A fleet's journals in one place (docs/fleet.md): a failing job's entries
    /// go from the test journald through a real `systemd-journal-upload` to a
    /// real `systemd-journal-remote` on 127.0.0.1 (plain HTTP), and the
    /// compound error is read back from the remote's journal files.
    @Suite("gatherd end to end: a fleet's journals", .serialized, .timeLimit(.minutes(3)))
    struct FleetEndToEndTests {
        /// Why the forwarding cannot be tested here, or nil when it can.
        static var missing: String? {
            for binary in [JournalRemote.binary, JournalRemote.uploadBinary]
            where !FileManager.default.isExecutableFile(atPath: binary) {
                return "\(binary) missing (scripts/setup.sh installs systemd-journal-remote)"
            }
            return nil
        }

        @Test func compoundErrorReachesTheCollectingHostWithEveryFailure() async throws {
            guard TestJournald.canRun else { return }
            if let reason = Self.missing {
                print("skipped: \(reason)")
                return
            }
            try TestJournald.ensureRunning()
            let harness = try DaemonHarness("fleet")
            let id = harness.id("nightly")
            try harness.drop(id, """
                {"name": "nightly", "policy": "collect-all", "tasks": [
                  {"name": "dump", "command": ["sh", "-c", "echo dump-stderr >&2; exit 1"]},
                  {"name": "prune", "command": ["true"]},
                  {"name": "upload", "command": ["sh", "-c", "kill -KILL $$"]},
                  {"name": "notify", "command": ["curl-not-installed"]}
                ]}
                """)
            try await harness.runUntilIdle()
            let failures = [
                "dump: exited with status 1",
                "upload: killed by signal SIGKILL",
                "notify: could not start: No such file or directory (curl-not-installed)",
            ]
            let local = try harness.journal(id)
            let localCompound = try #require(local.first { $0["MESSAGE_ID"] == "2567adab07a549029b2ad935f355fc66" })
            // journald lists an entry's fields in the order of their data in
            // its file, and stores each distinct value once: a line an earlier
            // entry already holds comes first. So repeated fields are compared
            // as sets; MESSAGE keeps the task order.
            #expect(localCompound.fields["GATHER_FAILURE"]?.sorted() == failures.sorted())

            // What `journalctl -o export` prints is what systemd-journal-upload
            // sends when it reads the journal itself; giving it exactly the
            // job's entries keeps the upload small on a shared journal (a
            // cursor is no bound there: the test journald restarts, and its
            // sequence numbers with it).
            let remote = try await JournalRemote.start(directory: harness.spool + "/remote")
            let export = try Run.command(["journalctl", "-o", "export", "--all", "--no-pager", "GATHER_JOB=\(id)"])
            try #require(export.status == 0, "journalctl -o export: \(export.output)")
            let exportFile = harness.spool + "/job.export"
            try export.stdout.write(to: URL(fileURLWithPath: exportFile))
            let upload = try Run.command([JournalRemote.uploadBinary, "--url=http://127.0.0.1:\(remote.port)", exportFile])
            #expect(upload.status == 0, "systemd-journal-upload: \(upload.output)")
            await remote.stop()

            // SplitMode=host (the default): one file per sending host, named after its address.
            let files = (try? FileManager.default.contentsOfDirectory(atPath: remote.directory)) ?? []
            #expect(files.contains("remote-127.0.0.1.journal"), "remote wrote \(files); its log: \(remote.log)")

            let collected = try TestJournald.readBack(match: ["GATHER_JOB=\(id)"], directory: remote.directory)
            #expect(collected.count == local.count, "remote log: \(remote.log)")
            // Read as docs/fleet.md reads it: by MESSAGE_ID and the sending host.
            let host = try #require(localCompound["_HOSTNAME"])
            let byHost = try TestJournald.readBack(
                match: ["MESSAGE_ID=2567adab07a549029b2ad935f355fc66", "_HOSTNAME=\(host)", "GATHER_JOB=\(id)"],
                directory: remote.directory)
            let compound = try #require(byHost.first, "no compound error of \(id) in the remote's files; its log: \(remote.log)")
            #expect(byHost.count == 1)
            #expect(compound.fields["GATHER_FAILURE"]?.sorted() == failures.sorted())
            #expect(compound["GATHER_ERROR_COUNT"] == "3")
            #expect(compound["GATHER_STATE"] == "failed")
            #expect(compound["GATHER_POLICY"] == "collect-all")
            #expect(compound["PRIORITY"] == "3")
            #expect(compound["MESSAGE"] == "job \(id) (nightly) failed: CompoundError, 3 errors [\(failures.joined(separator: "; "))]")
            // Every field arrives as sent, journald's trusted ones too; only
            // the cursor is the remote's own.
            var sent = localCompound.fields.mapValues { $0.sorted() }
            var received = compound.fields.mapValues { $0.sorted() }
            sent["__CURSOR"] = nil
            received["__CURSOR"] = nil
            #expect(received == sent)
            // The task's own output lines travel too.
            #expect(collected.contains { $0["MESSAGE"] == "dump-stderr" && $0["GATHER_TASK"] == "dump" && $0["GATHER_STREAM"] == "stderr" })
        }
    }
}

/// A `systemd-journal-remote` listening for plain HTTP on 127.0.0.1, writing
/// its journal files to `directory` (`--output=DIR/`).
final class JournalRemote: @unchecked Sendable {
    static let binary = "/lib/systemd/systemd-journal-remote"
    static let uploadBinary = "/lib/systemd/systemd-journal-upload"

    let directory: String
    let port: UInt16
    private let process: Process

    private init(directory: String, port: UInt16, process: Process) {
        self.directory = directory
        self.port = port
        self.process = process
    }

    /// Starts it on a free port; another process may take a probed port first,
    /// so a start that exits is tried again on another.
    static func start(directory: String) async throws -> JournalRemote {
        let logPath = Self.logPath(directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var lastLog = ""
        for _ in 0..<5 {
            let port = try Self.freePort()
            guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
                throw FixtureError(what: "create \(logPath)", output: String(cString: strerror(errno)))
            }
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = ["--listen-http=127.0.0.1:\(port)", "--output=\(directory)/"]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = log
            process.standardError = log
            try process.run()
            try? log.close()
            let listening = await RunningDaemon.waitUntil(limit: .seconds(10)) {
                !process.isRunning || Self.accepts(port: port)
            }
            if listening && process.isRunning {
                return JournalRemote(directory: directory, port: port, process: process)
            }
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
            _ = await RunningDaemon.waitUntil(limit: .seconds(10)) { !process.isRunning }
            lastLog = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        }
        throw FixtureError(what: "systemd-journal-remote --listen-http", output: lastLog)
    }

    private static func logPath(_ directory: String) -> String { directory + ".log" }

    /// What it printed.
    var log: String { (try? String(contentsOfFile: Self.logPath(directory), encoding: .utf8)) ?? "" }

    /// SIGTERM and wait: it closes its files, so they are complete on disk.
    func stop() async {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGTERM)
        if await !RunningDaemon.waitUntil(limit: .seconds(10), { !process.isRunning }) {
            Glibc.kill(process.processIdentifier, SIGKILL)
        }
    }

    deinit {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago (bound to 0, then closed).
    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError(what: "socket", output: String(cString: strerror(errno))) }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw FixtureError(what: "bind 127.0.0.1:0", output: String(cString: strerror(errno))) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw FixtureError(what: "getsockname", output: String(cString: strerror(errno))) }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Whether a TCP connection to 127.0.0.1:`port` succeeds.
    private static func accepts(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }
}
