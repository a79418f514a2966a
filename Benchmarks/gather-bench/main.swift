// gather-bench: the cost of the policy engine against plain task groups, as an
// outside user would measure it.
//
// Contenders, each gathering N no-op closures (`{ i }`, built before the clock
// starts, as the engine's tasks are):
// - `sum`: a `withThrowingTaskGroup` that adds the values up — the floor;
// - `results`: a `withThrowingTaskGroup` that keeps a `Result` per task, in
//   task order — what any gather has to keep;
// - `collect-all`: `gather` under the default policy, every outcome kept.
//
// Every run is a process of its own (this binary with `--child NAME N`): its
// wall time and its peak memory (`getrusage` maxrss) are its own, not those of
// the runs before it. The contenders alternate, their order rotating each
// round; each figure is the median over the rounds. `--full`: N = 100,000, 7
// rounds (release build). `--small` (CI): N = 10,000, 1 round.
import Gather

#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

let clock = ContinuousClock()
/// The process's CPU time when the contender's clock stopped: its checks of
/// the results afterwards are not part of the figure.
nonisolated(unsafe) var cpuAtEnd = 0.0

/// Runs `n` no-op tasks with the named contender and returns the wall time.
func run(_ name: String, _ n: Int) async -> Duration {
    switch name {
    case "sum": return await summingGroup(n)
    case "results": return await resultGroup(n)
    case "collect-all": return await gathered(n)
    default: fatalError("unknown contender \(name)")
    }
}

func summingGroup(_ n: Int) async -> Duration {
    let bodies: [@Sendable () async throws -> Int] = (0..<n).map { i in { i } }
    let start = clock.now
    let sum = try! await withThrowingTaskGroup(of: Int.self) { group in
        for body in bodies { group.addTask { try await body() } }
        var sum = 0
        for try await value in group { sum += value }
        return sum
    }
    let elapsed = start.duration(to: clock.now)
    cpuAtEnd = usage().cpu
    precondition(sum == n * (n - 1) / 2)
    return elapsed
}

struct Ended: Sendable {
    let index: Int
    let result: Result<Int, any Error>
}

func resultGroup(_ n: Int) async -> Duration {
    let bodies: [@Sendable () async throws -> Int] = (0..<n).map { i in { i } }
    let start = clock.now
    var results = [Result<Int, any Error>?](repeating: nil, count: n)
    await withThrowingTaskGroup(of: Ended.self) { group in
        for (index, body) in bodies.enumerated() {
            group.addTask {
                do { return Ended(index: index, result: .success(try await body())) } catch {
                    return Ended(index: index, result: .failure(error))
                }
            }
        }
        while let ended = try? await group.next() { results[ended.index] = ended.result }
    }
    let elapsed = start.duration(to: clock.now)
    cpuAtEnd = usage().cpu
    precondition(results.count { if case .success? = $0 { true } else { false } } == n)
    return elapsed
}

func gathered(_ n: Int) async -> Duration {
    let tasks = (0..<n).map { i in GatherTask<Int>("t\(i)") { _ in i } }
    let start = clock.now
    let results = try! await gather(tasks)
    let elapsed = start.duration(to: clock.now)
    cpuAtEnd = usage().cpu
    precondition(results.successes.count == n)
    return elapsed
}

/// The process's peak memory (KiB) and CPU time so far (seconds, user and system).
func usage() -> (peakKiB: Int, cpu: Double) {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return (usage.ru_maxrss, seconds(usage.ru_utime) + seconds(usage.ru_stime))
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func fixed(_ x: Double, _ digits: Int = 2) -> String {
    String(format: "%.\(digits)f", x)
}

let arguments = CommandLine.arguments

// A child: one run, then its figures on one line: wall seconds, peak KiB, CPU
// seconds of the run (both cores: the children run beside the loop).
if let at = arguments.firstIndex(of: "--child"), at + 2 < arguments.count, let n = Int(arguments[at + 2]) {
    _ = await summingGroup(1000)  // wake the cooperative pool, as every contender finds it
    let before = usage().cpu
    let elapsed = await run(arguments[at + 1], n)
    print("\(seconds(elapsed)) \(usage().peakKiB) \(cpuAtEnd - before)")
    exit(0)
}

let full = arguments.contains("--full")
let n = full ? 100_000 : 10_000
let rounds = full ? 7 : 1
let contenders = ["sum", "results", "collect-all"]
let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()

func child(_ name: String, _ n: Int) throws -> (seconds: Double, kib: Double, cpu: Double) {
    let process = Process()
    process.executableURL = me
    process.arguments = ["--child", name, String(n)]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let fields = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace)
    guard process.terminationStatus == 0, fields.count == 3, let s = Double(fields[0]), let k = Double(fields[1]),
          let c = Double(fields[2]) else {
        fatalError("\(name) child failed: status \(process.terminationStatus), output \(fields)")
    }
    return (s, k, c)
}

var times: [String: [Double]] = [:]
var memory: [String: [Double]] = [:]
var cpu: [String: [Double]] = [:]
for round in 0..<rounds {
    // Rotate the order, so no contender always runs first or last.
    for offset in 0..<contenders.count {
        let name = contenders[(round + offset) % contenders.count]
        let figures = try child(name, n)
        times[name, default: []].append(figures.seconds)
        memory[name, default: []].append(figures.kib)
        cpu[name, default: []].append(figures.cpu)
    }
}

print("gather-bench: \(n) no-op tasks, a process per run, contenders alternated, median of \(rounds) round(s)")
let baseTime = median(times["results"]!)
let baseMemory = median(memory["results"]!)
let baseCPU = median(cpu["results"]!)
// Each round's runs are seconds apart, so their ratio cancels the drift of a
// machine shared with other work; the median of those ratios beside the ratio of medians.
func roundRatios(_ figures: [String: [Double]], _ name: String) -> String {
    let ratios = zip(figures[name]!, figures["results"]!).map { $0 / $1 }
    return "×" + fixed(median(ratios)) + " (rounds ×" + fixed(ratios.min()!) + "–" + fixed(ratios.max()!) + ")"
}
for name in contenders {
    let t = median(times[name]!)
    let m = median(memory[name]!)
    let c = median(cpu[name]!)
    print("  \(name.padding(toLength: 12, withPad: " ", startingAt: 0))"
        + " \(fixed(t * 1000, 1)) ms (×\(fixed(t / baseTime)) of results),"
        + " peak memory \(fixed(m / 1024, 1)) MiB (×\(fixed(m / baseMemory))),"
        + " CPU \(fixed(c * 1000, 0)) ms (×\(fixed(c / baseCPU)))")
}
for name in contenders where name != "results" {
    print("  \(name) / results, round by round: wall \(roundRatios(times, name)), peak memory \(roundRatios(memory, name)),"
        + " CPU \(roundRatios(cpu, name))")
}
