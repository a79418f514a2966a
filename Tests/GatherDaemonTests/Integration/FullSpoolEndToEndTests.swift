import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension RobustnessEndToEnd {
    /// A spool whose file system fills up (SPEC §3 "a record that cannot be
    /// written"): gatherd runs in a mount namespace of its own with the spool on
    /// a 1 MiB tmpfs; the test reaches that spool through `/proc/PID/root`.
    @Suite("gatherd end to end: a full spool", .serialized, .timeLimit(.minutes(2)))
    struct FullSpoolEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func aRecordThatCannotBeWrittenWaitsAndIsFinishedOnceThereIsSpace() async throws {
            guard TestJournald.canRun else { return }
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else {
                print("skipped: needs /usr/bin/unshare (util-linux)")
                return
            }
            let harness = try DaemonHarness("full")
            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try startOnTmpfs(harness, notifySocket: notify.path)
            try #require(await notify.message("READY") != nil, "gatherd did not start on the tmpfs: \(daemon.stderr)")
            let view = try checkedView(harness, daemon)

            // The task ends when the test says so: after the spool is full.
            let go = harness.spool + "-go"
            defer { unlink(go) }
            let id = harness.id("job")
            try Data(#"{"tasks": [{"name": "t", "command": ["sh", "-c", "while [ ! -e \#(go) ] && kill -0 $PPID 2>/dev/null; do sleep 0.05; done"]}]}"#.utf8)
                .write(to: URL(fileURLWithPath: "\(view)/incoming/.\(id).tmp"))
            try #require(rename("\(view)/incoming/.\(id).tmp", "\(view)/incoming/\(id).json") == 0)
            let running = await eventually {
                let groups = currentState(spool: view, id: id)?["process_groups"] as? [Any]
                return groups?.isEmpty == false
            }
            try #require(running, "the job did not start: \(daemon.stderr)")

            // Written now, renamed in once the spool is full: a rename needs no space.
            let second = harness.id("second")
            try Data(#"{"tasks": [{"name": "t", "command": ["true"]}]}"#.utf8)
                .write(to: URL(fileURLWithPath: "\(view)/incoming/.\(second).tmp"))

            let filled = try fill("\(view)/filler", limit: 8 << 20)
            #expect(filled > 0 && filled < 8 << 20, "filled \(filled) bytes")
            try Data().write(to: URL(fileURLWithPath: go))

            let paused = await notify.message("STATUS") { $0.hasPrefix("spool write error: ") }
            #expect(paused?.value("STATUS") == "spool write error: No space left on device; claiming paused")
            let entries = try await harness.journalEntries(id).filter { $0["MESSAGE_ID"] == MessageID.spoolWriteError }
            #expect(entries.count == 1)
            #expect(entries.first?["PRIORITY"] == "2")
            #expect(entries.first?["MESSAGE"] == "cannot write record of \(id): No space left on device; claiming paused")
            // The job waits in active/, with no record anywhere.
            #expect(FileManager.default.fileExists(atPath: "\(view)/active/\(id)/job.json"))
            #expect(!FileManager.default.fileExists(atPath: "\(view)/active/\(id)/result.json"))
            #expect(!FileManager.default.fileExists(atPath: "\(view)/done/\(id)"))
            // Claiming is paused: a file dropped now waits in incoming/.
            #expect(rename("\(view)/incoming/.\(second).tmp", "\(view)/incoming/\(second).json") == 0)
            await pause(.milliseconds(1000))
            #expect(FileManager.default.fileExists(atPath: "\(view)/incoming/\(second).json"))
            #expect(!FileManager.default.fileExists(atPath: "\(view)/active/\(second)"))

            let clock = ContinuousClock()
            let freed = clock.now
            #expect(unlink("\(view)/filler") == 0)
            let finished = await eventually(limit: .seconds(25)) {
                FileManager.default.fileExists(atPath: "\(view)/done/\(id)/result.json")
            }
            let took = freed.duration(to: clock.now)
            #expect(finished, "no record \(took) after space was freed")
            print(String(format: "full spool: record written %.2f s after space was freed", seconds(took)))
            #expect(took < .seconds(20))
            let record = try Data(contentsOf: URL(fileURLWithPath: "\(view)/done/\(id)/result.json"))
            let object = try JSONSerialization.jsonObject(with: record) as? [String: Any]
            #expect(object?["state"] as? String == "succeeded")
            #expect(!FileManager.default.fileExists(atPath: "\(view)/active/\(id)"))
            // Claiming resumed: the file that waited is run too.
            #expect(await eventually(limit: .seconds(10)) {
                FileManager.default.fileExists(atPath: "\(view)/done/\(second)/result.json")
            })
            // STATUS= no longer shows the error.
            #expect(await notify.message("STATUS", limit: .seconds(5)) { $0.hasSuffix("2 done, 0 failed, 0 rejected") } != nil)

            daemon.kill(SIGTERM)
            #expect(await daemon.exitStatus(limit: .seconds(10)) == 0)
        }

        /// The spool fills up while a file is being claimed (its `state.json`
        /// cannot be written): once there is space again the job runs, without
        /// waiting for a restart of the daemon.
        @Test func aClaimThatCannotBeWrittenIsTakenUpOnceThereIsSpace() async throws {
            guard TestJournald.canRun, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return }
            let harness = try DaemonHarness("fullclaim")
            let notify = try NotifyLog()
            defer { notify.stop() }
            let daemon = try startOnTmpfs(harness, notifySocket: notify.path)
            try #require(await notify.message("READY") != nil, "gatherd did not start on the tmpfs: \(daemon.stderr)")
            let view = try checkedView(harness, daemon)
            let id = harness.id("claimed")
            try Data(#"{"tasks": [{"name": "t", "command": ["true"]}]}"#.utf8)
                .write(to: URL(fileURLWithPath: "\(view)/incoming/.\(id).tmp"))
            _ = try fill("\(view)/filler", limit: 8 << 20)
            #expect(rename("\(view)/incoming/.\(id).tmp", "\(view)/incoming/\(id).json") == 0)

            let paused = await notify.message("STATUS") { $0.hasPrefix("spool write error: ") }
            // Names the file it could not write, and says "spool write error" once.
            #expect(paused?.value("STATUS") == "spool write error: write active/\(id)/.state.json.tmp: No space left on device; claiming paused")
            let entries = try await daemonEntries(pid: daemon.pid, messageID: MessageID.spoolWriteError)
            #expect(entries.count == 1)
            #expect(entries.first?["MESSAGE"]?.hasSuffix(": write active/\(id)/.state.json.tmp: No space left on device; claiming paused") == true,
                    "\(entries.first?["MESSAGE"] ?? "")")
            #expect(entries.first?["PRIORITY"] == "2")
            // A claim is no job yet: no job fields made up for it.
            #expect(entries.first?["MESSAGE"]?.hasPrefix("cannot write to the spool: ") == true)
            #expect(entries.first?["GATHER_JOB"] == nil && entries.first?["GATHER_UID"] == nil)

            #expect(unlink("\(view)/filler") == 0)
            let finished = await eventually(limit: .seconds(25)) {
                FileManager.default.fileExists(atPath: "\(view)/done/\(id)/result.json")
            }
            let listing = ["incoming", "active", "done", "failed", "rejected"].map { area in
                "\(area): \((try? FileManager.default.contentsOfDirectory(atPath: "\(view)/\(area)")) ?? [])"
            }
            #expect(finished, "\(listing)")
            daemon.kill(SIGTERM)
            #expect(await daemon.exitStatus(limit: .seconds(10)) == 0)
        }

        /// Runs gatherd through a shell that mounts a 1 MiB tmpfs on the spool in
        /// a private mount namespace, then execs it (same PID). The journal and
        /// notify sockets stay reachable: only the spool is covered.
        private func startOnTmpfs(_ harness: DaemonHarness, notifySocket: String) throws -> RunningDaemon {
            let wrapper = harness.spool + "-tmpfs.sh"
            try """
                set -e
                spool=$1; shift
                mount -t tmpfs -o size=1m,mode=0755 gatherd-test "$spool"
                mkdir -m 0700 "$spool/incoming"
                exec "$@"
                """.write(toFile: wrapper, atomically: true, encoding: .utf8)
            var environment = ProcessInfo.processInfo.environment
            environment["NOTIFY_SOCKET"] = notifySocket
            environment.removeValue(forKey: "WATCHDOG_USEC")
            return try RunningDaemon(
                binary: "/usr/bin/unshare",
                arguments: ["--mount", "--propagation", "private", "/bin/sh", wrapper, harness.spool,
                            DaemonHarness.binary, "--spool", harness.spool, "--log-target", "journal"] + harness.withCgroup([]),
                environment: environment)
        }

        /// The spool as gatherd sees it (`/proc/PID/root/SPOOL`), after making
        /// sure it is the small tmpfs: nothing else may ever be filled.
        private func checkedView(_ harness: DaemonHarness, _ daemon: RunningDaemon) throws -> String {
            let view = "/proc/\(daemon.pid)/root\(harness.spool)"
            let mounts = (try? String(contentsOfFile: "/proc/\(daemon.pid)/mounts", encoding: .utf8)) ?? ""
            try #require(mounts.contains("gatherd-test \(harness.spool) tmpfs "), "the spool as gatherd sees it is not our tmpfs")
            var fs = statvfs()
            try #require(statvfs(view, &fs) == 0 && UInt64(fs.f_blocks) * UInt64(fs.f_frsize) <= 2 << 20, "the spool file system is not small")
            return view
        }

        /// Writes zeros to `path` until the file system is full (or `limit` bytes);
        /// returns how many were written.
        private func fill(_ path: String, limit: Int) throws -> Int {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw FixtureError(what: "create \(path)", output: String(cString: strerror(errno))) }
            defer { close(fd) }
            let chunk = [UInt8](repeating: 0, count: 64 << 10)
            var total = 0
            while total < limit {
                let n = write(fd, chunk, chunk.count)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    if errno == ENOSPC { break }
                    throw FixtureError(what: "fill \(path)", output: String(cString: strerror(errno)))
                }
                total += n
            }
            return total
        }
    }
}
