import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs `gatherctl ARGS…` as the user nobody (root only: `setpriv`), for what
/// gatherctl must refuse another user.
private func ctlAsNobody(_ harness: CtlHarness, _ arguments: [String]) async throws -> Run.Result {
    try await CtlHarness.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                              CtlHarness.gatherctl, "--spool", harness.spool] + arguments)
}

private func skipUnlessRoot(_ why: String) -> Bool {
    guard getuid() == 0 else {
        print("skipped: \(why) needs root to act as another user (uid \(getuid()))")
        return true
    }
    return false
}

/// The misuses of SPEC §10 that need no daemon: each names the problem on
/// stderr and exits with SPEC's code.
@Suite("gatherctl misuse", .timeLimit(.minutes(2)))
struct MisuseTests {
    static let job = #"{"tasks": [{"name": "t", "command": ["true"]}]}"#

    @Test func waitingWithNoDaemonSaysSoAndExits2() async throws {
        let harness = try CtlHarness("no-daemon")
        let id = harness.id("orphan")
        let path = try harness.file("\(id).json", Self.job)
        let started = ContinuousClock.now
        let result = try await harness.ctl(["submit", "--wait", path])
        #expect(result.status == 2, "\(result.output)")
        #expect(result.stderrText.contains("no gatherd serves \(harness.spool)"), "\(result.output)")
        #expect(result.stderrText.contains("job \(id) waits in incoming/ for the next gatherd"), "\(result.output)")
        // Said at once (the grace for a restarting daemon is a second), not after a long wait.
        #expect(ContinuousClock.now - started < .seconds(10))
        // What was submitted stays for the next daemon.
        #expect(harness.names("incoming") == ["\(id).json"])
        #expect(result.stdoutText == "\(id)\n")
    }

    @Test func statusCountsIncomingAndSaysNoDaemonServes() async throws {
        let harness = try CtlHarness("status-idle")
        for name in ["a", "b", "c"] {
            #expect(try await harness.ctl(["submit", try harness.file("\(harness.id(name)).json", Self.job)]).status == 0)
        }
        let plain = try await harness.ctl(["submit", try harness.file("\(harness.id("d")).json", Self.job)])
        #expect(plain.status == 0)
        #expect(plain.stderrText == "gatherctl: no gatherd serves \(harness.spool) now: the job waits in incoming/ until one starts\n",
                "\(plain.output)")
        // What the daemon would claim counts (a `.json` name that is no valid
        // ID is claimed and rejected); what it ignores does not (SPEC §3).
        for name in ["bad name.json", "notes.txt", ".\(harness.id("e")).json.tmp"] {
            #expect(FileManager.default.createFile(atPath: "\(harness.spool)/incoming/\(name)", contents: Data("{}".utf8)))
        }
        let status = try await harness.ctl(["status"])
        #expect(status.status == 0, "\(status.output)")
        let lines = status.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.first == "no gatherd serves \(harness.spool): nothing is claimed or run until one starts", "\(lines)")
        #expect(lines.contains("5 files waiting in incoming/"), "\(lines)")
        let json = try await harness.ctl(["status", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        #expect(object["incoming"] as? Int == 5)
        #expect((object["daemon"] as? [String: Any])?["running"] as? Bool == false)
    }

    @Test(arguments: [["submit", "FILE"], ["status"], ["show", "x"], ["cancel", "x"], ["submit", "--wait", "FILE"], ["list"], ["pause"]])
    func aDirectoryThatIsNotASpoolSaysSo(arguments: [String]) async throws {
        let harness = try CtlHarness("not-spool")
        let notSpool = harness.files + "/plain"
        try FileManager.default.createDirectory(atPath: notSpool, withIntermediateDirectories: true)
        let path = try harness.file("job.json", Self.job)
        let result = try await CtlHarness.run([CtlHarness.gatherctl, "--spool", notSpool] + arguments.map { $0 == "FILE" ? path : $0 })
        #expect(result.status == 2, "\(arguments): \(result.output)")
        #expect(result.stderrText.contains("gatherctl: \(notSpool) is not a gatherd spool (it has no incoming/ directory)"),
                "\(result.output)")
        // Nothing was written into it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: notSpool).isEmpty)
    }

    @Test func cancellingAJobTheCallerCannotSeeIsNoJobOfTheirs() async throws {
        guard !skipUnlessRoot("cancel as another user") else { return }
        let harness = try CtlHarness("cancel-hidden")
        let id = harness.id("roots")
        #expect(try await harness.ctl(["submit", try harness.file("\(id).json", Self.job)]).status == 0)
        // incoming/ as the daemon leaves it (0700): nobody cannot look in.
        let result = try await ctlAsNobody(harness, ["cancel", id])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.stderrText.contains("gatherctl: no job \(id) of yours waiting or running in \(harness.spool)"), "\(result.output)")
        #expect(harness.names("cancel").isEmpty)
    }

    @Test func cancellingAnotherUsersFinishedJobIsNoJobOfTheirs() async throws {
        guard !skipUnlessRoot("cancel as another user") else { return }
        let harness = try CtlHarness("cancel-done")
        let id = harness.id("roots")
        // A finished job as the daemon leaves it: done/ID of mode 0750, root's.
        let dir = "\(harness.spool)/done/\(id)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(harness.spool + "/done", 0o755)
        chmod(dir, 0o750)
        #expect(FileManager.default.createFile(atPath: dir + "/result.json", contents: Data("{}".utf8)))
        let result = try await ctlAsNobody(harness, ["cancel", id])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.stderrText.contains("gatherctl: no job \(id) of yours waiting or running in \(harness.spool)"), "\(result.output)")
    }

    @Test func cancellingAnotherUsersJobIsRefusedAsTheDaemonWould() async throws {
        guard !skipUnlessRoot("cancel as another user") else { return }
        let harness = try CtlHarness("cancel-other")
        let id = harness.id("roots")
        #expect(try await harness.ctl(["submit", try harness.file("\(id).json", Self.job)]).status == 0)
        // incoming/ opened to a group as SPEC §8 shows (search, no listing) and cancel/ writable:
        // nobody finds root's file by name and could drop a request.
        chmod(harness.spool + "/incoming", 0o1733)
        chmod(harness.spool + "/cancel", 0o1733)
        let result = try await ctlAsNobody(harness, ["cancel", "--wait", id])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.stderrText.contains("gatherctl: job \(id) was submitted by uid 0 (root), not by you (uid 65534): only its submitter or root may cancel it"),
                "\(result.output)")
        #expect(harness.names("cancel").isEmpty, "a request was left for the daemon to refuse")
        // Root may.
        let byRoot = try await harness.ctl(["cancel", id])
        #expect(byRoot.status == 0, "\(byRoot.output)")
        #expect(harness.names("cancel") == [id])
    }

    @Test(arguments: [["logs"], ["logs", "--follow"], ["logs", "-f", "--json"]])
    func logsOfAnUnknownJobSaySo(arguments: [String]) async throws {
        guard !skipUnlessRoot("reading gatherd's journal") else { return }
        let harness = try CtlHarness("logs-unknown")
        let id = harness.id("never")
        let started = ContinuousClock.now
        let result = try await harness.ctl(arguments + [id])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.stderrText.contains("gatherctl: no job \(id): it is not in \(harness.spool) and the journal has no entries for it"),
                "\(result.output)")
        // --follow too ends at once instead of waiting forever.
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func logsForAUserWhoMayNotReadTheJournalSaySo() async throws {
        guard !skipUnlessRoot("reading the journal as another user") else { return }
        guard TestJournald.canRun else { return }
        try TestJournald.ensureRunning()
        let machineID = try String(contentsOfFile: "/etc/machine-id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let journals = ["/var/log/journal", "/run/log/journal"].map { "\($0)/\(machineID)/system.journal" }
        guard let journal = journals.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            print("skipped: no system journal file in \(journals)")
            return
        }
        let harness = try CtlHarness("logs-denied")
        let id = harness.id("secret")
        #expect(try await harness.ctl(["submit", try harness.file("\(id).json", Self.job)]).status == 0)
        let result = try await ctlAsNobody(harness, ["logs", id])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.stderrText.contains("gatherctl: you may not read gatherd's journal entries (\(journal))"), "\(result.output)")
        #expect(result.stderrText.contains("systemd-journal or adm group"), "\(result.output)")
    }
}

extension GatherctlEndToEnd {
    /// The daemon going away under a waiting gatherctl (SPEC §10).
    @Suite("gatherctl when the daemon dies", .serialized, .timeLimit(.minutes(3)))
    struct DaemonGoneTests {
        init() throws {
            if TestJournald.canRun { try TestJournald.ensureRunning() }
        }

        @Test func onATerminalTheWaitGoesOnUntilADaemonServes() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("tty-no-daemon")
            let id = harness.id("patient")
            // Long enough for the wait to see the daemon before the record.
            let path = try harness.file("\(id).json", #"{"tasks": [{"name": "t", "command": ["sleep", "1"]}]}"#)
            // script(1) gives gatherctl a pseudo-terminal (stderr and stdout both reach it).
            let command = "\(CtlHarness.gatherctl) --spool \(harness.spool) submit --wait \(path)"
            let waiting = try RunningCommand("/usr/bin/script", ["-qec", command, "/dev/null"])
            defer { waiting.stop() }
            let told = await RunningCommand.waitUntil(limit: .seconds(10)) { waiting.stdout.contains("no gatherd serves \(harness.spool)") }
            #expect(told, "\(waiting.stdout.debugDescription)")
            #expect(waiting.stdout.contains("no gatherd; waiting for 1 job: \(id) waiting"), "\(waiting.stdout.debugDescription)")
            #expect(waiting.process.isRunning, "a terminal wait must go on")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            #expect(await waiting.wait(limit: .seconds(20)) == 0, "\(waiting.stdout.debugDescription)")
            #expect(waiting.stdout.contains("gatherctl: a gatherd serves \(harness.spool) again"), "\(waiting.stdout.debugDescription)")
            #expect(waiting.stdout.contains("\(id): succeeded"), "\(waiting.stdout.debugDescription)")
        }

        @Test func aDaemonKilledWhileWaitingIsNamedAndTheWaitExits2() async throws {
            guard TestJournald.canRun else { return }
            let harness = try CtlHarness("killed")
            let daemon = try await harness.startDaemon()
            defer { daemon.stop() }
            let id = harness.id("long")
            let path = try harness.file("\(id).json", #"{"tasks": [{"name": "nap", "command": ["sleep", "30"]}]}"#)
            let waiting = try harness.startCtl(["submit", "--wait", path])
            defer { waiting.stop() }
            var pid: Int?
            let running = await RunningCommand.waitUntil(limit: .seconds(20)) {
                guard let status = try? await harness.ctl(["status", "--json"]),
                      let object = try? JSONSerialization.jsonObject(with: status.stdout) as? [String: Any],
                      let job = (object["active"] as? [[String: Any]])?.first(where: { $0["id"] as? String == id }),
                      let task = (job["tasks"] as? [[String: Any]])?.first, task["status"] as? String == "running" else { return false }
                pid = task["pid"] as? Int
                return true
            }
            #expect(running, "the job never ran")
            let status = try await harness.ctl(["status"])
            #expect(status.stdoutText.hasPrefix("gatherd (pid \(daemon.process.processIdentifier)) serves \(harness.spool)\n"),
                    "\(status.output)")

            kill(daemon.process.processIdentifier, SIGKILL)
            let code = await waiting.wait(limit: .seconds(15))
            // The sleeper outlives its daemon (no cgroup kill): end it here.
            if let pid { kill(Int32(pid), SIGKILL) }
            #expect(code == 2, "\(waiting.stdout)\(waiting.stderr)")
            #expect(waiting.stderr.contains("gatherctl: no gatherd serves \(harness.spool)"), "\(waiting.stderr)")
            #expect(waiting.stderr.contains("job \(id) was claimed (running), the next gatherd recovers it"), "\(waiting.stderr)")

            // status does not show it running.
            let after = try await harness.ctl(["status"])
            let line = after.stdoutText.split(separator: "\n").first { $0.hasPrefix(id + " ") }
            #expect(line?.contains("running (daemon not running)") == true, "\(after.output)")
            #expect(after.stdoutText.hasPrefix("no gatherd serves"), "\(after.output)")
            let show = try await harness.ctl(["show", id])
            #expect(show.stdoutText.hasPrefix("job \(id), file \(id).json: running (daemon not running), no record yet"), "\(show.output)")
        }
    }
}
