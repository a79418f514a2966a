// journal-probe [--stale] [--target auto|journal|stderr] JOB
// journal-probe --fault stop|kill|restart [--count N] JOB
//
// Writes one event and one output line through JournalWriter, then prints the
// writer's counts on stdout (`sent=N stderr=N failures=N errno=N replayed=N`).
// The tests run it in a private mount namespace with an empty tmpfs over
// /run/systemd, so there is no journal socket (or, with --stale, a socket file
// nobody holds) without touching the machine's journald.
//
// With --fault it binds a fake journald of its own at the journal socket's
// path (FakeJournal) and writes N numbered entries ("probe entry I", events
// and output lines in turn) steadily; a quarter of the way it stops reading,
// waits until datagrams are queued unread, then:
//   stop     removes the socket file and closes the socket (journald stopped);
//   kill     closes the socket, the file stays (journald killed with SIGKILL);
//   restart  as stop, and 200 entries later binds a new socket and reads again.
// It then prints `received=I I …` (the numbers the fake journald got) and,
// for restart, `rebound-at=I` (every entry from I on was written after the new
// socket existed). Every number must be in the received set or on stderr.
import GatherJournal
#if canImport(Glibc)
import Glibc
#endif

var arguments = Array(CommandLine.arguments.dropFirst())
var target = LogTarget.auto
var stale = false
var fault: String?
var count = 3000
while let first = arguments.first, first.hasPrefix("--") {
    arguments.removeFirst()
    switch first {
    case "--stale": stale = true
    case "--target": target = LogTarget(rawValue: arguments.removeFirst()) ?? .auto
    case "--fault": fault = arguments.removeFirst()
    case "--count": count = Int(arguments.removeFirst()) ?? count
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

func printCounts(_ writer: JournalWriter) {
    let counts = writer.statistics
    print("usesJournal=\(writer.usesJournal) sent=\(counts.sent) stderr=\(counts.toStderr) failures=\(counts.sendFailures)"
        + " errno=\(counts.lastErrno ?? 0) replayed=\(counts.replayed)")
}

guard let fault else {
    let writer = JournalWriter(configuration: .init(target: target))
    writer.log(.jobStarted(job, tasks: 1, policy: .collectAll))
    writer.logOutput(Array("<3>probe output line".utf8),
                     from: TaskOutputSource(job: job, task: "t1", attempt: 1, stream: .stderr))
    writer.flush()
    writer.close()
    printCounts(writer)
    exit(0)
}

guard ["stop", "kill", "restart"].contains(fault) else { print("unknown fault \(fault)"); exit(2) }
let journal = FakeJournal(path: JournalSender.socketPath)
guard JournalSender.socketExists else { print("bind failed: errno \(errno)"); exit(2) }
let writer = JournalWriter(configuration: .init(target: .journal))
let source = TaskOutputSource(job: job, task: "t1", attempt: 1, stream: .stdout)
let faultAt = count / 4
var reboundAt: Int?
for index in 0..<count {
    switch index {
    case faultAt:
        journal.pauseReading()
    case faultAt + 20:
        // Entries sent and never read: what journald loses when it goes away.
        guard journal.waitForUnreadData(seconds: 5) else { print("nothing queued at the fake journal"); exit(2) }
        journal.close(unlinking: fault != "kill")
    case faultAt + 220 where fault == "restart":
        journal.rebind()
        reboundAt = index
    default:
        break
    }
    if index % 2 == 0 {
        guard let entry = try? JournalEntry(["MESSAGE": "probe entry \(index)", "SYSLOG_IDENTIFIER": "gatherd"]) else { exit(2) }
        writer.log(entry)
    } else {
        writer.logOutput(Array("probe entry \(index)".utf8), from: source)
    }
    usleep(200)
}
writer.flush()
writer.close()
journal.finish()
printCounts(writer)
let received = journal.received
print("datagrams=\(received.datagrams)")
print("received=" + received.numbers.sorted().map(String.init).joined(separator: " "))
if let reboundAt { print("rebound-at=\(reboundAt)") }
