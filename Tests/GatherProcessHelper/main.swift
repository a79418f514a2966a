// A helper process for GatherProcessTests. Checks that change process-wide
// state (signal mask and dispositions, the file limit, becoming a subreaper)
// or that measure the process's memory run here, not in the shared test
// process. Each mode prints `key=value` lines the tests parse.
import GatherProcess
import Glibc
import Synchronization

func say(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(1, $0, strlen($0)) }
}

/// A NUL-terminated C buffer as a String.
func text(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

func fail(_ message: String) -> Never {
    say("error=\(message)")
    exit(2)
}

/// This process's own state, as a task sees it (run as the task).
func report() {
    // Probe before anything opens a descriptor.
    var fds: [Int32] = []
    for fd in Int32(0)..<4096 where fcntl(fd, F_GETFD) >= 0 { fds.append(fd) }
    say("fds=" + fds.map(String.init).joined(separator: ","))
    let mask = umask(0)
    umask(mask)
    say("umask=" + String(mask, radix: 8))
    var cwd = [CChar](repeating: 0, count: 4096)
    if getcwd(&cwd, cwd.count) != nil { say("cwd=" + text(cwd)) }
    say("pid=\(getpid()) pgid=\(getpgrp()) sid=\(getsid(0))")
    var groups = [gid_t](repeating: 0, count: 256)
    let count = getgroups(256, &groups)
    say("uid=\(getuid()) euid=\(geteuid()) gid=\(getgid()) groups=" + groups.prefix(Int(max(count, 0))).map(String.init).joined(separator: ","))
    var limit = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    say("nofile=\(limit.rlim_cur)")
    var entry = environ
    while let pointer = entry.pointee {
        say("env=" + String(cString: pointer))
        entry += 1
    }
}

/// Collects a process's output lines as strings.
final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var handler: ProcessOutputHandler {
        { [self] _, _, bytes in
            let line = String(decoding: bytes, as: UTF8.self)
            lines.withLock { $0.append(line) }
        }
    }
}

func run(_ launcher: ProcessLauncher, _ command: [String], environment: [String] = ["PATH=/usr/bin:/bin"]) async -> (ExitStatus, [String]) {
    let lines = Lines()
    do {
        let process = try launcher.spawn(ProcessSpec(command: command, environment: environment, cwd: "/tmp"), output: lines.handler)
        let status = await process.exitStatus()
        await process.outputFinished(within: .seconds(5))
        return (status, lines.all)
    } catch {
        fail("\(error)")
    }
}

/// Spawns from a parent that ignores SIGPIPE, blocks signals and has raised its file limit.
func spawnCheck() async {
    signal(SIGPIPE, SIG_IGN)
    signal(SIGUSR2, SIG_IGN)
    var blocked = sigset_t()
    sigemptyset(&blocked)
    for sig in [SIGTERM, SIGUSR1, SIGHUP, SIGINT, SIGCHLD] { sigaddset(&blocked, sig) }
    pthread_sigmask(SIG_BLOCK, &blocked, nil)
    // Start from a soft limit below the hard one, as a daemon under systemd does (1024).
    var start = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &start)
    start.rlim_cur = min(1024, start.rlim_max)
    setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &start)
    guard let (original, raised) = try? ProcessLauncher.raiseFileLimit() else { fail("raiseFileLimit") }
    say("parent-original-nofile=\(original) parent-raised-nofile=\(raised)")
    guard let launcher = try? ProcessLauncher.shared else { fail("launcher") }
    // The spawning thread's own mask is the one a child would inherit: block here too.
    pthread_sigmask(SIG_BLOCK, &blocked, nil)
    let (status, lines) = await run(launcher, ["/bin/cat", "/proc/self/status"])
    say("cat-status=\(status)")
    for line in lines where line.hasPrefix("Sig") || line.hasPrefix("Shd") { say("status:" + line.replacingTabs()) }
    var path = [CChar](repeating: 0, count: 4096)
    guard readlink("/proc/self/exe", &path, path.count - 1) > 0 else { fail("readlink") }
    let me = text(path)
    pthread_sigmask(SIG_BLOCK, &blocked, nil)
    let (reportStatus, report) = await run(launcher, [me, "report"], environment: ["A=1", "PATH=/bin", "B=two words"])
    say("report-status=\(reportStatus)")
    for line in report { say("report:" + line) }
}

extension String {
    func replacingTabs() -> String { String(map { $0 == "\t" ? " " : $0 }) }
}

/// Floods a pipe through the launcher and reports memory and what arrived.
func flood(stream: String, bytes: Int, newlines: Bool) async {
    guard let launcher = try? ProcessLauncher.shared else { fail("launcher") }
    let source = newlines ? "yes 0123456789abcdefghijklmnopqrstuvwxyz" : "cat /dev/zero"
    let redirect = stream == "stderr" ? " >&2" : ""
    let script = "\(source) | head -c \(bytes)\(redirect); printf 'the end\\n'\(redirect)"
    struct Counts { var bytes = 0; var lines = 0; var longest = 0; var last = "" }
    let counts = Mutex(Counts())
    let before = memoryKilobytes("VmRSS")
    let process: RunningProcess
    do {
        process = try launcher.spawn(ProcessSpec(command: ["/bin/sh", "-c", script], environment: ["PATH=/usr/bin:/bin"]),
                                     output: { _, _, line in
            counts.withLock { counts in
                counts.bytes += line.count
                counts.lines += 1
                counts.longest = max(counts.longest, line.count)
                if line.count < 64 { counts.last = String(decoding: line, as: UTF8.self) }
            }
        })
    } catch { fail("\(error)") }
    let status = await process.exitStatus()
    await process.outputFinished(within: .seconds(30))
    let result = counts.withLock { $0 }
    let tail = process.stderrTail
    say("status=\(status)")
    say("bytes=\(result.bytes) lines=\(result.lines) longest=\(result.longest) last=\(result.last)")
    say("rss_before_kb=\(before) hwm_kb=\(memoryKilobytes("VmHWM")) rss_after_kb=\(memoryKilobytes("VmRSS"))")
    say("tail_bytes=\(tail.count) tail_ends_right=\(tail.suffix(8).elementsEqual("the end\n".utf8))")
}

func memoryKilobytes(_ key: String) -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, 512, file) != nil {
        let text = text(line)
        if text.hasPrefix(key + ":") {
            return Int(text.dropFirst(key.count + 1).filter(\.isNumber)) ?? -1
        }
    }
    return -1
}

/// Becomes a subreaper; a task's descendant that left the group must be reaped when it ends.
func subreaper() async {
    do { try ProcessLauncher.becomeSubreaper() } catch { fail("\(error)") }
    guard let launcher = try? ProcessLauncher.shared else { fail("launcher") }
    let (status, lines) = await run(launcher, ["/bin/sh", "-c", "setsid sleep 0.5 >/dev/null 2>&1 & echo $!"])
    guard let pid = lines.first.flatMap({ Int32($0) }) else { fail("no pid in \(lines)") }
    say("status=\(status) orphan=\(pid)")
    // While it sleeps, its parent must be us (reparented).
    say("orphan_ppid=\(parentOf(pid) ?? -1) me=\(getpid())")
    var waited = 0
    while waited < 3000, FileManagerLite.exists("/proc/\(pid)") {
        usleep(20_000)
        waited += 20
    }
    say("orphan_gone=\(!FileManagerLite.exists("/proc/\(pid)"))")
    // execve makes every task a SIGCHLD child: with the reaper active, the
    // launcher's own children must still report their real exit status.
    var clean = 0
    await withTaskGroup(of: Bool.self) { group in
        for index in 0..<300 {
            if index >= 8, await group.next() == true { clean += 1 }
            group.addTask { await run(launcher, ["/bin/true"]).0 == .exited(0) }
        }
        for await ok in group where ok { clean += 1 }
    }
    say("own_exited_0=\(clean)")
}

func parentOf(_ pid: Int32) -> Int32? {
    guard let file = fopen("/proc/\(pid)/status", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, 512, file) != nil {
        let text = text(line)
        if text.hasPrefix("PPid:") { return Int32(text.dropFirst(5).filter(\.isNumber)) }
    }
    return nil
}

enum FileManagerLite {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "report": report()
case "spawn-check": await spawnCheck()
case "flood":
    guard arguments.count == 4, let bytes = Int(arguments[2]) else { fail("flood STREAM BYTES lines|raw") }
    await flood(stream: arguments[1], bytes: bytes, newlines: arguments[3] == "lines")
case "subreaper": await subreaper()
default: fail("modes: report, spawn-check, flood, subreaper")
}
