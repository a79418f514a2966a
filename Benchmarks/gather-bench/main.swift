// gather-bench: the cost of the policy engine against a bare task group.
//
// Gathers N no-op closures under each policy and with a bare `withTaskGroup`
// (the same closures, outcomes kept in task order), alternating the contenders each round,
// and prints the median wall time of each, the ratio to the bare group, and how
// each grows from N/10 to N tasks. `--full`: N = 100,000, 5 rounds (release
// build). `--small` (CI): N = 10,000, 1 round. `--only POLICY` runs one policy
// beside the baseline.
import Gather

let full = CommandLine.arguments.contains("--full")
let large = full ? 100_000 : 10_000
let rounds = full ? 5 : 1
let clock = ContinuousClock()

/// The baseline: the same closures in a bare task group, each outcome kept in
/// task order (what any gather has to do), no policy, no bookkeeping.
/// The baseline: the same closures in a bare task group, each outcome kept in
/// task order (what any gather has to do), no policy, no bookkeeping.
func bare(_ n: Int) async -> Duration {
    let bodies: [@Sendable () async throws -> Int] = (0..<n).map { i in { i } }
    let start = clock.now
    var results = [Result<Int, any Error>?](repeating: nil, count: n)
    await withTaskGroup(of: Outcome.self) { group in
        for (index, body) in bodies.enumerated() {
            group.addTask { await Outcome(index: index, result: Result { try await body() }) }
        }
        while let outcome = await group.next() { results[outcome.index] = outcome.result }
    }
    let elapsed = start.duration(to: clock.now)
    precondition(results.count { if case .success? = $0 { true } else { false } } == n)
    return elapsed
}

struct Outcome: Sendable {
    let index: Int
    let result: Result<Int, any Error>
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

func gathered(_ n: Int, _ policy: GatherPolicy) async -> Duration {
    let tasks = (0..<n).map { i in GatherTask<Int>("t\(i)") { _ in i } }
    let start = clock.now
    let results = try! await gather(tasks, options: GatherOptions(policy: policy))
    let elapsed = start.duration(to: clock.now)
    precondition(results.successes.count == n)
    return elapsed
}

func median(_ values: [Duration]) -> Double {
    let seconds = values.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
    return seconds.sorted()[seconds.count / 2]
}
func fixed(_ x: Double, _ digits: Int = 2) -> String {
    let scale = (0..<digits).reduce(1.0) { acc, _ in acc * 10 }
    return "\((x * scale).rounded() / scale)"
}

var contenders: [(String, (Int) async -> Duration)] = [("withTaskGroup", bare)]
    + GatherPolicy.allCases.map { policy in (policy.rawValue, { n in await gathered(n, policy) }) }
// `--only NAME` runs one contender (and the baseline), e.g. under `perf stat`.
if let index = CommandLine.arguments.firstIndex(of: "--only"), index + 1 < CommandLine.arguments.count {
    let name = CommandLine.arguments[index + 1]
    contenders = contenders.filter { $0.0 == name || $0.0 == "withTaskGroup" }
}

var timings: [String: [Int: [Duration]]] = [:]
_ = await bare(1000)  // warm up the cooperative pool
for n in [large / 10, large] {
    for _ in 0..<rounds {
        for (name, run) in contenders { timings[name, default: [:]][n, default: []].append(await run(n)) }
    }
}

let base = median(timings["withTaskGroup"]![large]!)
print("gather-bench: \(large) no-op tasks, median of \(rounds) round(s)")
for (name, _) in contenders {
    let big = median(timings[name]![large]!)
    let small = median(timings[name]![large / 10]!)
    print("  \(name + String(repeating: " ", count: max(0, 16 - name.count)))"
        + " \(fixed(big * 1000, 1)) ms for \(large), \(fixed(small * 1000, 1)) ms for \(large / 10);"
        + " ×\(fixed(big / base)) of withTaskGroup; ×\(fixed(big / small)) for 10× the tasks")
}
