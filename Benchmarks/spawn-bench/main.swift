// spawn-bench: the process launcher against a plain C posix_spawn + wait loop,
// and the CPU cost of many sleeping children.
//
//   --small  CI: 200 spawns, 1 round; 200 sleepers for 1 s
//   --full   2,000 spawns at 8 at a time, the two alternated, median of 5;
//            5,000 sleepers for 10 s
import CSpawnLoop
import GatherProcess
import Glibc

func say(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(1, $0, strlen($0)) }
}

let full = CommandLine.arguments.contains("--full")
let total = full ? 2000 : 200
let rounds = full ? 5 : 1
let parallel = 8
let sleepers = full ? 5000 : 200
let sleepFor: Duration = full ? .seconds(10) : .seconds(1)

signal(SIGPIPE, SIG_IGN)
do {
    try ProcessLauncher.raiseFileLimit()
} catch {
    say("spawn-bench: \(error)")
    exit(1)
}
guard let launcher = try? ProcessLauncher.shared else {
    say("spawn-bench: cannot start the launcher")
    exit(1)
}
let spec = ProcessSpec(command: ["/bin/true"], environment: ["PATH=/usr/bin:/bin"])

/// `total` spawns through the launcher, `parallel` workers; wall time in seconds.
func launcherRound() async -> Double {
    let begin = ContinuousClock.now
    await withTaskGroup(of: Void.self) { group in
        for worker in 0..<parallel {
            let share = total / parallel + (worker < total % parallel ? 1 : 0)
            group.addTask {
                for _ in 0..<share {
                    guard let process = try? launcher.spawn(spec) else { continue }
                    _ = await process.exitStatus()
                    await process.stopRemaining(grace: .seconds(5))
                    await process.outputFinished(within: .seconds(5))
                }
            }
        }
    }
    let (s, atto) = begin.duration(to: .now).components
    return Double(s) + Double(atto) / 1e18
}

func cRound() -> Double {
    Double(cspawnloop_run("/bin/true", Int32(total), Int32(parallel))) / 1e9
}

/// `value` with `digits` decimals (no Foundation here).
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    let whole = scaled / Int(scale)
    let fraction = String(abs(scaled) % Int(scale))
    guard digits > 0 else { return String(whole) }
    return "\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

// Warm up both paths (page cache, the launcher's threads).
_ = cRound()
_ = await launcherRound()

var cTimes: [Double] = []
var launcherTimes: [Double] = []
for round in 0..<rounds {
    // Alternate which goes first so drift on a shared machine hits both.
    if round % 2 == 0 {
        cTimes.append(cRound())
        launcherTimes.append(await launcherRound())
    } else {
        launcherTimes.append(await launcherRound())
        cTimes.append(cRound())
    }
}
let c = median(cTimes)
let l = median(launcherTimes)
say("spawn-and-reap \(total) /bin/true, \(parallel) at a time, median of \(rounds):")
say("  C posix_spawn + wait   \(fixed(c, 3)) s  \(fixed(Double(total) / c, 0))/s  rounds \(cTimes.map { fixed($0, 3) })")
say("  ProcessLauncher        \(fixed(l, 3)) s  \(fixed(Double(total) / l, 0))/s  rounds \(launcherTimes.map { fixed($0, 3) })")
say("  ratio launcher / C     \(fixed(l / c, 3))")

// Sleeping children: the launcher's threads must not wake for them.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
var sleeping: [RunningProcess] = []
let sleepSpec = ProcessSpec(command: ["/bin/sleep", "3600"], environment: ["PATH=/usr/bin:/bin"])
for _ in 0..<sleepers {
    do { sleeping.append(try launcher.spawn(sleepSpec)) } catch {
        say("spawn-bench: sleeper: \(error)")
        break
    }
}
try? await Task.sleep(for: .milliseconds(500))
let cpuBefore = cpuSeconds()
try? await Task.sleep(for: sleepFor)
let cpu = cpuSeconds() - cpuBefore
say("  \(sleeping.count) sleeping children: \(fixed(cpu * 1000, 1)) ms CPU over \(sleepFor)")
for process in sleeping { process.terminate(grace: .seconds(5)) }
for process in sleeping { _ = await process.exitStatus() }
