import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// One daemon per spool: a second gatherd on a spool in use refuses to
    /// start, and the first one's running job is left alone; spool directories
    /// gatherd makes have their modes whatever the umask; a daemon that loses
    /// its watch stops (exit 1) rather than run on blind.
    @Suite("gatherd end to end: one daemon per spool", .serialized, .timeLimit(.minutes(2)))
    struct SpoolLockEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        @Test func aSecondDaemonOnTheSameSpoolRefusesToStart() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("lock")
            let pidFile = try harness.scratch() + "/busy.pid"
            let id = try harness.drop(harness.id("busy"), """
                {"tasks": [{"name": "t", "command": ["sh", "-c", "echo $$ > \(pidFile); sleep 4"]}]}
                """)
            let first = try harness.start(["--exit-when-idle"])
            #expect(await harness.waitForPID(in: pidFile) != nil)
            // Busy longer than the 2 s a starting daemon waits for the lock.
            let second = try harness.start()
            let status = await second.wait(limit: .seconds(20))
            if status == nil { second.kill(SIGKILL) }
            #expect(status == 1)
            #expect(second.stderr.contains("in use by another gatherd"), "\(second.stderr)")
            // The first daemon's job ran to its end, untouched.
            #expect(await first.wait(limit: .seconds(30)) == 0)
            #expect(try harness.record(id).object["state"] as? String == "succeeded")
        }

        @Test func spoolDirectoriesGetTheirModesWhateverTheUmask() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("umask")
            let spool = harness.spool + "/made-here"
            let daemon = try RunningDaemon(
                binary: "/bin/sh",
                arguments: ["-c", "umask 077; exec \"$0\" --spool \"$1\" --exit-when-idle --log-target stderr --cgroup off",
                            DaemonHarness.binary, spool],
                environment: ProcessInfo.processInfo.environment)
            #expect(await daemon.wait(limit: .seconds(20)) == 0, "\(daemon.stderr)")
            var modes: [String: mode_t] = [:]
            for name in ["", "incoming", "cancel", "active", "done", "failed", "rejected"] {
                var st = stat()
                #expect(lstat(spool + "/" + name, &st) == 0)
                modes[name] = st.st_mode & 0o7777
            }
            #expect(modes == ["": 0o755, "incoming": 0o700, "cancel": 0o700,
                              "active": 0o755, "done": 0o755, "failed": 0o755, "rejected": 0o755])
        }

        @Test func losingTheWatchOnIncomingStopsTheDaemonWithStatus1() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("lostwatch")
            let daemon = try harness.start()
            #expect(try await harness.waitUntilReady(daemon))
            // An administrator moves incoming/ away: no dropped file could be seen any more.
            #expect(rename(harness.spool + "/incoming", harness.spool + "/incoming.old") == 0)
            let status = await daemon.wait(limit: .seconds(20))
            if status == nil { daemon.kill(SIGKILL) }
            #expect(status == 1)
            #expect(daemon.stderr.contains("incoming"), "\(daemon.stderr)")
        }

        @Test func aNonRootDaemonRejectsADirectoryItCannotMoveAndGoesOn() async throws {
            guard TestJournald.canRun else { return }
            guard access(DaemonHarness.binary, X_OK) == 0,
                  FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
                print("skipped: no setpriv or no gatherd binary")
                return
            }
            let harness = try DaemonHarness("nonroot")
            // The daemon runs as uid 65534 and owns its spool; root drops a directory
            // that uid 65534 cannot move (renaming a directory rewrites its `..`).
            #expect(chown(harness.spool, 65534, 65534) == 0 && chown(harness.spool + "/incoming", 65534, 65534) == 0)
            let bad = harness.id("dir")
            #expect(mkdir(harness.spool + "/incoming/\(bad).json", 0o755) == 0)
            let good = try harness.drop(harness.id("good"), #"{"tasks": [{"name": "t", "command": ["true"]}]}"#,
                                        owner: 65534, group: 65534)
            let daemon = try RunningDaemon(
                binary: "/usr/bin/setpriv",
                arguments: ["--reuid=65534", "--regid=65534", "--clear-groups", DaemonHarness.binary,
                            "--spool", harness.spool, "--exit-when-idle", "--log-target", "stderr", "--cgroup", "off"],
                environment: ProcessInfo.processInfo.environment)
            let status = await daemon.wait(limit: .seconds(30))
            if status == nil { daemon.kill(SIGKILL) }
            guard status != 126, !daemon.stderr.contains("Permission denied (os error") else {
                print("skipped: uid 65534 cannot run the gatherd binary here: \(daemon.stderr)")
                return
            }
            #expect(status == 0, "\(daemon.stderr)")
            let record = try harness.record(bad)
            #expect(record.area == "rejected")
            #expect(record.object["error"] as? String
                == "the entry cannot be moved out of incoming/ (a directory): Permission denied; left in incoming/")
            #expect(FileManager.default.fileExists(atPath: harness.spool + "/incoming/\(bad).json"))
            // Claiming went on: the good job ran.
            #expect(try harness.record(good).object["state"] as? String == "succeeded")
        }
    }
}
