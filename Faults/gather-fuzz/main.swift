// gather-fuzz: a fuzzer over job files (SPEC §4, §8).
//
//     gather-fuzz [--seed N] [--count 10000] [--sample 300 --out DIR] [--show 5] [--list-messages]
//
// It starts from a built-in corpus of valid job files that together hold
// every key of the job-key table (running only `true`, `false`, `/bin/true`,
// `echo fuzz` or `sh -c "exit 3"`), mutates them with a seeded SplitMix64
// (JSON level: typos in keys, duplicate and unknown keys, swapped types,
// numbers as 4.0, 1e2, -0, huge or negative, odd durations, control
// characters and NUL in names, deep nesting, long strings, invalid UTF-8,
// empty tasks, unknown and cyclic `after`, duplicate task names…; byte level:
// flips, insertions, deletions, truncation; several at once on a third of
// the inputs), and validates every input in this process with the context
// the daemon gives a root-owned file under a daemon running as root. Each
// answer is checked against the validator's contract (GatherFuzz's
// FuzzOracle): a job or at least one problem, never both; every message
// non-empty; every path empty (whole-file problems, syntax with a line and
// column that exist) or a key path of the file; what a mutation is known to
// break is reported where it broke; a valid job is what SPEC §4 allows; the
// same bytes give the same answer. A crash ends the process, which its
// caller sees. It prints the seed and a summary and exits 1 on any violation
// (printing the first --show, with their input), 2 on a usage error;
// --list-messages prints every problem message seen, quoted names and
// numbers masked, for a reader to judge their wording.
//
// With --out DIR it also writes --sample inputs, about half of them valid,
// as DIR/fuzz-NNNN.json (mode 0644) and DIR/expected.jsonl, one line each:
//
//     {"file":"fuzz-0000.json","valid":true,"error":null,"tasks":2}
//     {"file":"fuzz-0001.json","valid":false,"error":"tasks[0].name: required","tasks":0}
//
// `error` is the rejected record's `error` exactly as the daemon writes it
// for the file dropped by root (problems joined with "; "); `tasks` the
// number of tasks of a valid job. A valid sample runs only the harmless
// commands above (as root or the owner, in / or /tmp, without resource
// limits, at most 50 tasks, retries waiting 3 s at most). The fault suite
// drops the samples into a daemon's spool as root and checks each record
// against its line: a valid file ran (done/ or failed/, that many tasks), an
// invalid one is in rejected/ with that error, so the daemon and the
// in-process validator agree.

import GatherFuzz
import GatherSpool
import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String, code: Int32 = 2) -> Never {
    let bytes = Array("gather-fuzz: \(message)\n".utf8)
    _ = SystemCall.writeAll(2, bytes)
    exit(code)
}

func say(_ line: String) { print(line) }

struct Options {
    var seed: UInt64?
    var count = 10_000
    var sample = 0
    var out: String?
    var show = 5
    var listMessages = false
}

func parse(_ args: [String]) -> Options {
    var o = Options()
    var i = 0
    func value(_ name: String) -> String {
        i += 1
        guard i < args.count else { fail("\(name) needs a value") }
        return args[i]
    }
    func number(_ name: String) -> Int {
        let text = value(name)
        guard let n = Int(text), n >= 0 else { fail("\(name): not a count: \(text)") }
        return n
    }
    while i < args.count {
        switch args[i] {
        case "--seed":
            let text = value("--seed")
            let parsed = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
            guard let seed = parsed else { fail("--seed: not a 64-bit number: \(text)") }
            o.seed = seed
        case "--count": o.count = number("--count")
        case "--sample": o.sample = number("--sample")
        case "--out": o.out = value("--out")
        case "--show": o.show = number("--show")
        case "--list-messages": o.listMessages = true
        case "-h", "--help":
            say("usage: gather-fuzz [--seed N] [--count 10000] [--sample 300 --out DIR] [--show 5] [--list-messages]")
            exit(0)
        default: fail("unknown argument \(args[i]) (try --help)")
        }
        i += 1
    }
    if o.sample > 0, o.out == nil { fail("--sample needs --out DIR") }
    if o.sample > 10_000 { fail("--sample: at most 10000 (file names have four digits)") }
    return o
}

/// One written sample.
struct Sample {
    let index: Int
    let bytes: [UInt8]
    let error: String?
    let tasks: Int
}

/// Keeps a uniform choice of `capacity` items from a stream (Algorithm R).
struct Reservoir {
    let capacity: Int
    var items: [Sample] = []
    var seen = 0

    mutating func offer(_ make: @autoclosure () -> Sample, _ rng: inout SplitMix64) {
        seen += 1
        guard capacity > 0 else { return }
        if items.count < capacity { items.append(make()); return }
        let slot = rng.below(seen)
        if slot < capacity { items[slot] = make() }
    }
}

func write(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard fd >= 0 else { fail("cannot write \(path): \(Errno(errno))", code: 1) }
    defer { close(fd) }
    // The mode whatever the umask: a job file writable by group or others is refused.
    guard fchmod(fd, 0o644) == 0 else { fail("cannot chmod \(path): \(Errno(errno))", code: 1) }
    if let e = SystemCall.writeAll(fd, bytes) { fail("cannot write \(path): \(e)", code: 1) }
}

let options = parse(Array(CommandLine.arguments.dropFirst()))
var systemRandom = SystemRandomNumberGenerator()
let seed = options.seed ?? systemRandom.next()
say("gather-fuzz: seed \(seed) (replay: gather-fuzz --seed \(seed) --count \(options.count))")

let validWanted = options.sample / 2
var validPool = Reservoir(capacity: options.sample)
var invalidPool = Reservoir(capacity: options.sample)
var sampleRandom = SplitMix64(seed: seed ^ 0x5EED_5A3F_1E5A_3F1E)

let clock = ContinuousClock()
let started = clock.now
let summary = FuzzRun.run(seed: seed, count: options.count) { input, validation in
    guard options.sample > 0 else { return }
    let error = FuzzOracle.daemonError(input.bytes, validation)
    if let job = validation.job, error == nil {
        // A valid sample runs only harmless commands.
        guard FuzzCorpus.isHarmless(job) else { return }
        validPool.offer(Sample(index: input.index, bytes: input.bytes, error: nil, tasks: job.tasks.count), &sampleRandom)
    } else {
        // Inputs far past the size limit teach the daemon nothing more and cost memory.
        guard input.bytes.count <= JobFileValidator.maxFileSize + 4096 else { return }
        invalidPool.offer(Sample(index: input.index, bytes: input.bytes, error: error, tasks: 0), &sampleRandom)
    }
}
let elapsed = clock.now - started

let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
func fixed(_ x: Double, _ digits: Int = 2) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int((x * scale).rounded())
    let whole = n / Int(scale), frac = n % Int(scale)
    let f = String(frac)
    return "\(whole)." + String(repeating: "0", count: digits - f.count) + f
}

let keyCount = JobKeyTable.keys.count
say("corpus: \(summary.corpusFiles) valid files over the \(keyCount) keys of the table")
say("inputs: \(summary.inputs) (valid \(summary.valid), invalid \(summary.invalid); \(summary.withExpectation) with a known answer, \(summary.multiplyMutated) mutated several times)")
say("problems: \(summary.problems) (\(summary.messages.count) distinct messages, \(summary.messageKinds.count) distinct with names and numbers masked)")
say("invariant violations: \(summary.violationCount)")

if let out = options.out, options.sample > 0 {
    if mkdir(out, 0o755) != 0, errno != EEXIST { fail("cannot create \(out): \(Errno(errno))", code: 1) }
    let valid = Array(validPool.items.prefix(validWanted))
    let invalid = Array(invalidPool.items.prefix(options.sample - valid.count))
    let extraValid = Array(validPool.items.dropFirst(valid.count).prefix(options.sample - valid.count - invalid.count))
    let chosen = (valid + invalid + extraValid).sorted { $0.index < $1.index }
    var lines: [UInt8] = []
    for (n, s) in chosen.enumerated() {
        let digits = String(n)
        let file = "fuzz-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits + ".json"
        write(s.bytes, to: out + "/" + file)
        let line = JSONValue.object([
            ("file", .string(file)), ("valid", .bool(s.error == nil)),
            ("error", s.error.map { .string($0) } ?? .null), ("tasks", .integer(Int64(s.tasks))),
        ])
        lines += line.serializedBytes(pretty: false, trailingNewline: true)
    }
    write(lines, to: out + "/expected.jsonl")
    let validCount = chosen.filter { $0.error == nil }.count
    say("samples: \(chosen.count) in \(out) (\(validCount) valid, \(chosen.count - validCount) invalid; of \(validPool.seen) harmless valid and \(invalidPool.seen) invalid inputs)")
    if chosen.count < options.sample { say("samples: only \(chosen.count) of \(options.sample) could be chosen") }
}

if options.listMessages {
    for kind in summary.messageKinds.sorted() { say("message: \(kind)") }
}

let perInput = summary.inputs > 0 ? summary.validationSeconds / Double(summary.inputs) * 1e6 : 0
say("time: \(fixed(seconds)) s (validation \(fixed(summary.validationSeconds)) s, \(fixed(perInput, 1)) µs per input)")

if summary.violationCount > 0 {
    for v in summary.violations.prefix(options.show) { say(v.report) }
    exit(1)
}
