import GatherProcess
import Glibc
import Testing

@Suite("Launcher: start and classify", .timeLimit(.minutes(1)))
struct LauncherTests {
    @Test("exit statuses are reported as waitid saw them")
    func exitStatuses() async throws {
        #expect(try await Support.run(["/bin/true"]).status == .exited(0))
        let three = try await Support.run(["/bin/sh", "-c", "exit 3"])
        #expect(three.status == .exited(3))
        #expect(three.status.description == "exited with status 3")
        #expect(try await Support.run(["/bin/sh", "-c", "exit 255"]).status == .exited(255))
    }

    @Test("death by a signal gives its name")
    func signalDeath() async throws {
        let result = try await Support.run(["/bin/sh", "-c", "kill -SEGV $$"])
        #expect(result.status == .signaled(SIGSEGV))
        #expect(result.status.description == "killed by signal SIGSEGV")
        #expect(ExitStatus.signalName(9) == "SIGKILL")
        #expect(ExitStatus.signalName(36) == "SIGRTMIN+2")
    }

    @Test("a command is looked up in the task's PATH")
    func pathLookup() async throws {
        let result = try await Support.run(["echo", "hello"])
        #expect(result.status == .exited(0))
        #expect(result.out == ["hello"])
    }

    @Test("a missing command is a spawn failure naming it")
    func missingCommand() throws {
        #expect {
            _ = try Support.launcher.spawn(ProcessSpec(command: ["/usr/bin/nope"], environment: Support.path))
        } throws: { error in
            (error as? SpawnError)?.description == "could not start: No such file or directory (/usr/bin/nope)"
        }
        #expect {
            _ = try Support.launcher.spawn(ProcessSpec(command: ["curl-not-here"], environment: Support.path))
        } throws: { error in
            (error as? SpawnError)?.description == "could not start: No such file or directory (curl-not-here)"
        }
    }

    @Test("a file that is not executable is a spawn failure")
    func notExecutable() throws {
        let path = "/tmp/gather-process-noexec-\(getpid())"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        try #require(fd >= 0)
        _ = write(fd, "#!/bin/sh\necho no\n", 18)
        close(fd)
        defer { unlink(path) }
        #expect {
            _ = try Support.launcher.spawn(ProcessSpec(command: [path], environment: Support.path))
        } throws: { error in
            (error as? SpawnError)?.description == "could not start: Permission denied (\(path))"
        }
    }

    @Test("a bad working directory is a spawn failure naming it")
    func badCwd() throws {
        #expect {
            _ = try Support.launcher.spawn(ProcessSpec(command: ["/bin/true"], environment: Support.path, cwd: "/srv/no-such-dir"))
        } throws: { error in
            (error as? SpawnError)?.description == "could not start: No such file or directory (cwd /srv/no-such-dir)"
        }
    }

    @Test("the child runs in a new session in its cwd with umask 022 and stdin /dev/null")
    func processState() async throws {
        let result = try await Support.run(
            ["/bin/sh", "-c", "cat /proc/self/stat; umask; pwd; readlink /proc/self/fd/0; cat"], cwd: "/tmp")
        #expect(result.status == .exited(0))
        try #require(result.out.count == 4)
        // /proc/self/stat of cat: pid (1) … pgrp (5) session (6); cat is sh's child in sh's group.
        let stat = result.out[0]
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        #expect(Int32(fields[2]) == result.process.pid, "process group is the task's pid")
        #expect(Int32(fields[3]) == result.process.pid, "session is the task's pid")
        #expect(result.out[1] == "0022")
        #expect(result.out[2] == "/tmp")
        #expect(result.out[3] == "/dev/null")
    }

    @Test("the task sees exactly the environment of SPEC §4")
    func environment() async throws {
        let env = TaskEnvironment(
            user: "alice", home: "/home/alice", shell: "/bin/bash", job: "nightly", task: "dump-db",
            jobEnvironment: [("BACKUP_ROOT", "/srv/backup"), ("PATH", "/opt/bin:/usr/bin:/bin")],
            taskEnvironment: [("BACKUP_ROOT", "/srv/other"), ("EXTRA", "a b=c")])
        let entries = env.entries(attempt: 2)
        #expect(entries == [
            "PATH=/opt/bin:/usr/bin:/bin", "HOME=/home/alice", "USER=alice", "LOGNAME=alice", "SHELL=/bin/bash",
            "GATHER_JOB=nightly", "GATHER_TASK=dump-db", "GATHER_ATTEMPT=2", "BACKUP_ROOT=/srv/other", "EXTRA=a b=c",
        ])
        let base = TaskEnvironment(user: "u", home: "/", shell: "/bin/sh", job: "j", task: "t").entries(attempt: 1)
        #expect(base.first == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        let result = try await Support.run(["/usr/bin/env"], environment: entries)
        #expect(result.out == entries)
    }

    @Test("run as root, a task for uid 65534 runs as 65534 with its groups",
          .enabled(if: getuid() == 0, "needs root to switch identity"))
    func identity() async throws {
        // What the spool layer would look up for the account.
        var groups = [gid_t](repeating: 0, count: 64)
        var count: Int32 = 64
        let name = "nobody"
        _ = getgrouplist(name, 65534, &groups, &count)
        groups = Array(groups.prefix(Int(max(count, 0))))
        // An extra supplementary group proves the list is applied, not just the primary one.
        let identity = ProcessIdentity(uid: 65534, gid: 65534, groups: groups + [4], name: name)
        let result = try await Support.run(["/bin/sh", "-c", "id -u; id -g; id -G; cat /proc/self/status | grep -E '^(Uid|Gid):'"],
                                           cwd: "/tmp", identity: identity)
        #expect(result.status == .exited(0))
        try #require(result.out.count == 5)
        #expect(result.out[0] == "65534")
        #expect(result.out[1] == "65534")
        #expect(Set(result.out[2].split(separator: " ").compactMap { UInt32($0) }) == Set(groups + [4]))
        #expect(result.out[3].split(whereSeparator: \.isWhitespace).dropFirst().allSatisfy { $0 == "65534" }, "real, effective, saved, fs uid")
        #expect(result.out[4].split(whereSeparator: \.isWhitespace).dropFirst().allSatisfy { $0 == "65534" })
    }

    @Test("the identity is switched before chdir: a directory only root may enter fails as cwd",
          .enabled(if: getuid() == 0, "needs root to switch identity"))
    func identityBeforeChdir() throws {
        let dir = "/tmp/gather-process-private-\(getpid())"
        mkdir(dir, 0o700)
        defer { rmdir(dir) }
        let nobody = ProcessIdentity(uid: 65534, gid: 65534, groups: [], name: "nobody")
        #expect {
            _ = try Support.launcher.spawn(ProcessSpec(command: ["/bin/true"], environment: Support.path, cwd: dir, identity: nobody))
        } throws: { error in
            (error as? SpawnError)?.description == "could not start: Permission denied (cwd \(dir))"
        }
    }

    @Test("a failure to switch identity is a spawn failure naming the user",
          .enabled(if: getuid() == 0, "needs root to switch identity"))
    func identityFailure() throws {
        // More supplementary groups than the kernel allows (NGROUPS_MAX 65536): setgroups fails.
        let tooMany = ProcessIdentity(uid: 65534, gid: 65534, groups: Array(repeating: 65534, count: 70_000), name: "alice")
        #expect {
            _ = try Support.launcher.spawn(ProcessSpec(command: ["/bin/true"], environment: Support.path, identity: tooMany))
        } throws: { error in
            (error as? SpawnError)?.description == "could not start: Invalid argument (user alice)"
        }
    }
}

/// The line a child appends to the progress log before its exec (`SpawnRecord`).
@Suite struct SpawnRecordTests {
    /// The test's lines: `{"event":"started","pgid":…` and `{"event":"exited","pgid":…`.
    private static func record(_ fd: Int32) -> SpawnRecord {
        SpawnRecord(fd: fd, prefix: Array(#"{"event":"started","pgid":"#.utf8), exitPrefix: Array(#"{"event":"exited","pgid":"#.utf8))
    }

    /// A pipe standing in for the log: close-on-exec, its read end non-blocking.
    private func logPipe() -> [Int32]? {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        return fds
    }

    /// Reads what the children wrote to `fds[0]` so far.
    private func drain(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("a started child wrote its line, with its pid and start time, before it ran")
    func aStartedChildRecordsItself() async throws {
        let fds = try #require(logPipe())
        defer { close(fds[0]); close(fds[1]) }
        let record = Self.record(fds[1])
        let process = try Support.launcher.spawn(ProcessSpec(command: ["true"], environment: Support.path, record: record))
        _ = await process.exitStatus()
        let startTime = try #require(process.startTime)
        #expect(process.recordError == nil)
        #expect(drain(fds[0]) == #"{"event":"started","pgid":\#(process.pid),"start_time":\#(startTime)}"# + "\n")
    }

    @Test("an exec that fails after the line adds the group's exit, so no task looks running")
    func aFailedExecRecordsTheExit() throws {
        let fds = try #require(logPipe())
        defer { close(fds[0]); close(fds[1]) }
        let record = Self.record(fds[1])
        #expect(throws: SpawnError.self) {
            _ = try Support.launcher.spawn(ProcessSpec(command: ["/usr/bin/nope"], environment: Support.path, record: record))
        }
        let lines = drain(fds[0]).split(separator: "\n")
        #expect(lines.count == 2, "\(lines)")
        let pid = lines.first?.split(separator: ":").dropFirst(2).first?.split(separator: ",").first
        #expect(lines.first?.hasPrefix(#"{"event":"started","pgid":"#) == true)
        #expect(lines.last.map(String.init) == #"{"event":"exited","pgid":\#(pid ?? "?")}"#)
    }

    @Test("a failure before the exec (a missing working directory) writes no line")
    func aSetupFailureWritesNothing() throws {
        let fds = try #require(logPipe())
        defer { close(fds[0]); close(fds[1]) }
        let record = Self.record(fds[1])
        #expect(throws: SpawnError.self) {
            _ = try Support.launcher.spawn(ProcessSpec(command: ["true"], environment: Support.path, cwd: "/no/such/dir", record: record))
        }
        #expect(drain(fds[0]).isEmpty)
    }
}
