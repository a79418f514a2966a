// journal-bench [--small|--full]
//
// How many compound-error entries of 20 fields per second JournalWriter
// sustains against the real journald, and the cost of one entry in µs:
//   - direct: sd_journal_sendv from this thread, one entry after another
//     (the writer thread's own cost per entry);
//   - writer: entries queued with JournalWriter.log from the caller, timed to
//     the last one stored (flush), i.e. the sustained rate;
//   - caller: the time log() holds its caller per entry (what the supervisor pays).
// And for task output lines (80 bytes, the fields of SPEC §7's output lines):
//   - build: making the entry of one line (what the output reader's thread
//     pays per line before it queues it), with the fields a task's lines
//     share made once, as the daemon does, and made for every line;
//   - writer: lines through JournalWriter.logOutput, timed to the last one
//     stored (the sustained rate of a task's output into the journal).
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

// Task output lines: the entry of one line, then the sustained rate.
let lineCount = full ? 100_000 : 4_000
let outputJob = JobIdentity(id: "bench-\(run)-out", run: run, name: "bench output", uid: 0)
let line = Array(String(repeating: "x", count: 79).utf8) + [UInt8(ascii: "\n")]
// As the daemon does: the fields a task's lines share made once per attempt
// and stream; per line only MESSAGE and PRIORITY.
let outputFields = TaskOutputFields(TaskOutputSource(job: outputJob, task: "task", attempt: 1, stream: .stdout, pid: 4242))
var built = 0
let buildStart = clock.now
for _ in 0..<lineCount { built &+= JournalEntry.taskOutput(line, fields: outputFields).count }
let buildTime = clock.now - buildStart
// Before: every field made again for each line.
var builtEach = 0
let eachStart = clock.now
for _ in 0..<lineCount {
    let source = TaskOutputSource(job: outputJob, task: "task", attempt: 1, stream: .stdout, pid: 4242)
    builtEach &+= JournalEntry.taskOutput(line, fields: TaskOutputFields(source)).count
}
let eachTime = clock.now - eachStart
precondition(built == lineCount && builtEach == lineCount)

/// Lines through a writer to the last one stored; `shared`: the fields made
/// once, else for every line (`logOutput(_:from:)`).
func sustained(shared: Bool) -> (seconds: Double, sent: Int, toStderr: Int) {
    let writer = JournalWriter(configuration: .init(target: .journal))
    let start = clock.now
    for _ in 0..<lineCount {
        if shared {
            writer.logOutput(line, fields: outputFields)
        } else {
            writer.logOutput(line, from: TaskOutputSource(job: outputJob, task: "task", attempt: 1, stream: .stdout, pid: 4242))
        }
    }
    writer.flush()
    let time = clock.now - start
    writer.close()
    return (micros(time) / 1e6, writer.statistics.sent, writer.statistics.toStderr)
}
// Alternated, three rounds each; the medians.
var sharedRuns: [Double] = [], eachRuns: [Double] = []
var outputStats = (seconds: 0.0, sent: 0, toStderr: 0)
for _ in 0..<3 {
    outputStats = sustained(shared: true)
    sharedRuns.append(outputStats.seconds)
    eachRuns.append(sustained(shared: false).seconds)
}
let outputSeconds = sharedRuns.sorted()[1], eachSeconds = eachRuns.sorted()[1]
print("journal-bench: \(lineCount) task output lines of 80 bytes")
print(String(format: "  build one line's entry:  %6.2f µs/line (%.2f µs with every field made per line)",
             micros(buildTime) / Double(lineCount), micros(eachTime) / Double(lineCount)))
print(String(format: "  writer, sustained:       %8.0f lines/s, %6.1f µs/line (sent %d, stderr %d; median of 3)",
             Double(lineCount) / outputSeconds, outputSeconds * 1e6 / Double(lineCount),
             outputStats.sent, outputStats.toStderr))
print(String(format: "  the same, every field made per line: %8.0f lines/s, %6.1f µs/line (median of 3, alternated)",
             Double(lineCount) / eachSeconds, eachSeconds * 1e6 / Double(lineCount)))
