// journal-bench [--small|--full]
//
// How many compound-error entries of 20 fields per second JournalWriter
// sustains against the real journald, and the cost of one entry in µs:
//   - direct: sd_journal_sendv from this thread, one entry after another
//     (the writer thread's own cost per entry);
//   - writer: entries queued with JournalWriter.log from the caller, timed to
//     the last one stored (flush), i.e. the sustained rate;
//   - caller: the time log() holds its caller per entry (what the supervisor pays).
// With no journald answering it says so and exits 0.
import Gather
import GatherJournal
import Foundation
#if canImport(Glibc)
import Glibc
#endif

let full = CommandLine.arguments.contains("--full")
let count = full ? 50_000 : 2_000

guard JournalSender.socketExists else {
    print("journal-bench: no journal socket at \(JournalSender.socketPath); nothing measured")
    exit(0)
}

/// A compound-error entry of 20 fields: 4 MESSAGE/ID/PRIORITY/IDENTIFIER, 4 job,
/// state, policy, error count and 9 GATHER_FAILURE.
func entry(_ index: Int, run: String) -> JournalEntry {
    let failures = (1...9).map {
        TaskFailure(task: "task-\($0)", error: BenchError(text: "exited with status \($0)"), outcome: .failed)
    }
    let job = JobIdentity(id: "bench-\(run)-\(index)", run: run, name: "bench job \(index)", uid: 0)
    return .jobFailed(job, policy: .collectAll, error: CompoundError(failures: failures, cancelled: 1))
}

struct BenchError: Error, CustomStringConvertible {
    let text: String
    var description: String { text }
}

let run = String(UInt64(getpid()) &* 0x9E37_79B9_7F4A_7C15, radix: 16)
let sample = entry(0, run: run)
precondition(sample.fields.count == 20, "the benchmark entry must have 20 fields, has \(sample.fields.count)")
let entries = (0..<count).map { entry($0, run: run) }
let clock = ContinuousClock()

func micros(_ duration: Duration) -> Double {
    let (seconds, atto) = duration.components
    return Double(seconds) * 1e6 + Double(atto) / 1e12
}

// Direct sends: the cost the writer thread pays per entry.
var failed = 0
let directStart = clock.now
for item in entries.prefix(count / 2) where JournalSender.send(item) != nil { failed += 1 }
let direct = clock.now - directStart
let directCount = count / 2

// Through the writer: sustained rate, and what the caller pays.
let writer = JournalWriter(configuration: .init(target: .journal))
let writerStart = clock.now
for item in entries.suffix(count - directCount) { writer.log(item) }
let callerTime = clock.now - writerStart
writer.flush()
let writerTime = clock.now - writerStart
writer.close()
let stats = writer.statistics
let queued = count - directCount

print("journal-bench: \(count) compound-error entries of 20 fields (\(full ? "full" : "small"))")
print(String(format: "  direct sd_journal_sendv: %8.0f entries/s, %6.1f µs/entry (%d failed)",
             Double(directCount) / (micros(direct) / 1e6), micros(direct) / Double(directCount), failed))
print(String(format: "  writer, sustained:       %8.0f entries/s, %6.1f µs/entry (sent %d, stderr %d)",
             Double(queued) / (micros(writerTime) / 1e6), micros(writerTime) / Double(queued), stats.sent, stats.toStderr))
print(String(format: "  writer, caller's cost:   %6.2f µs/entry (log() returns)", micros(callerTime) / Double(queued)))
