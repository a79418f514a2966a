// journal-probe [--stale] [--target auto|journal|stderr] JOB
//
// Writes one event and one output line through JournalWriter, then prints the
// writer's counts on stdout (`sent=N stderr=N failures=N errno=N`). The tests
// run it in a private mount namespace with an empty tmpfs over /run/systemd,
// so there is no journal socket (or, with --stale, a socket file nobody holds)
// without touching the machine's journald.
import GatherJournal
#if canImport(Glibc)
import Glibc
#endif

var arguments = Array(CommandLine.arguments.dropFirst())
var target = LogTarget.auto
var stale = false
while let first = arguments.first, first.hasPrefix("--") {
    arguments.removeFirst()
    switch first {
    case "--stale": stale = true
    case "--target": target = LogTarget(rawValue: arguments.removeFirst()) ?? .auto
    default: break
    }
}
let jobID = arguments.first ?? "probe"

if stale {
    // Bind the journal socket path and close it: the file stays, nobody listens.
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    mkdir("/run/systemd/journal", 0o755)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(JournalSender.socketPath.utf8)) }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    close(fd)
    if bound != 0 { print("bind failed: errno \(errno)"); exit(2) }
}

let job = JobIdentity(id: jobID, run: "0123456789abcdef0123456789abcdef", name: jobID, uid: 0)
let writer = JournalWriter(configuration: .init(target: target))
writer.log(.jobStarted(job, tasks: 1, policy: .collectAll))
writer.logOutput(Array("<3>probe output line".utf8),
                 from: TaskOutputSource(job: job, task: "t1", attempt: 1, stream: .stderr))
writer.flush()
writer.close()
let counts = writer.statistics
print("usesJournal=\(writer.usesJournal) sent=\(counts.sent) stderr=\(counts.toStderr) failures=\(counts.sendFailures) errno=\(counts.lastErrno ?? 0)")
