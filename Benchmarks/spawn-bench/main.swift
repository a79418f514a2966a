// spawn-bench: the process launcher against a plain C posix_spawn + wait loop,
// and the CPU cost of many sleeping children.
//
//   --small  CI: 200 spawns, 1 round; 200 sleepers for 1 s
//   --full   2,000 spawns at 8 at a time, the three alternated, median of 5;
//            5,000 sleepers for 10 s
//
// The launcher runs twice: as without cgroups, and with a cgroup per task as
// the daemon runs it with cgroups (SPEC §11: mkdir of `task-NAME`, the spawn
// with CLONE_INTO_CGROUP, the check that it is empty, its usage read, rmdir),
// in a cgroup of the benchmark's own under the cgroup2 mount. Without root or
// cgroup2, that row says why it is missing.
import CSpawnLoop
import GatherProcess
import GatherSystem
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

/// The benchmark's own cgroup for the per-task cgroups, or why there is none.
let benchCgroup: Result<Cgroup, SystemCallError> = {
    guard getuid() == 0 else { return .failure(SystemCallError("cgroups need root", errno: Errno(EPERM))) }
    guard let mount = CgroupTree.cgroup2MountPoint else {
        return .failure(SystemCallError("no cgroup2 mount", errno: Errno(ENOENT)))
    }
    let path = mount + "/gatherd-spawn-bench-\(getpid())"
    if mkdir(path, 0o755) != 0 { return .failure(SystemCallError("mkdir \(path)", errno: Errno.current)) }
    do throws(SystemCallError) { return .success(try Cgroup.open(path)) } catch { return .failure(error) }
}()

/// `total` spawns through the launcher, `parallel` workers; wall time in
/// seconds. With `cgroup`, each spawn runs in a fresh cgroup below it.
func launcherRound(in cgroup: Cgroup? = nil) async -> Double {
    let begin = ContinuousClock.now
    await withTaskGroup(of: Void.self) { group in
        for worker in 0..<parallel {
            let share = total / parallel + (worker < total % parallel ? 1 : 0)
            group.addTask {
                for _ in 0..<share {
                    var taskSpec = spec
                    if let cgroup {
                        guard let task = try? cgroup.makeChild("task-w\(worker)") else { continue }
                        taskSpec.cgroup = task
                    }
                    guard let process = try? launcher.spawn(taskSpec) else { continue }
                    _ = await process.exitStatus()
                    await process.stopRemaining(grace: .seconds(5))
                    await process.outputFinished(within: .seconds(5))
                    if let task = taskSpec.cgroup {
                        _ = task.usage()
                        task.remove()
                    }
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

let taskCgroups = try? benchCgroup.get()

// Warm up every path (page cache, the launcher's threads).
_ = cRound()
_ = await launcherRound()
if let taskCgroups { _ = await launcherRound(in: taskCgroups) }

var cTimes: [Double] = []
var launcherTimes: [Double] = []
var cgroupTimes: [Double] = []
for round in 0..<rounds {
    // Rotate which goes first so drift on a shared machine hits all three.
    var order: [Int] = [0, 1, 2]
    for _ in 0..<(round % 3) { order.append(order.removeFirst()) }
    for path in order {
        switch path {
        case 0: cTimes.append(cRound())
        case 1: launcherTimes.append(await launcherRound())
        default: if let taskCgroups { cgroupTimes.append(await launcherRound(in: taskCgroups)) }
        }
    }
}
let c = median(cTimes)
let l = median(launcherTimes)
say("spawn-and-reap \(total) /bin/true, \(parallel) at a time, median of \(rounds):")
say("  C posix_spawn + wait   \(fixed(c, 3)) s  \(fixed(Double(total) / c, 0))/s  rounds \(cTimes.map { fixed($0, 3) })")
say("  ProcessLauncher        \(fixed(l, 3)) s  \(fixed(Double(total) / l, 0))/s  rounds \(launcherTimes.map { fixed($0, 3) })")
say("  ratio launcher / C     \(fixed(l / c, 3))")
switch benchCgroup {
case .success(let cgroup):
    let g = median(cgroupTimes)
    say("  launcher, cgroup/task  \(fixed(g, 3)) s  \(fixed(Double(total) / g, 0))/s  rounds \(cgroupTimes.map { fixed($0, 3) })")
    say("  ratio cgroup/task / C  \(fixed(g / c, 3))")
    say("  cost of the cgroup     \(fixed((g - l) / Double(total) * 1e6, 1)) µs per task (mkdir, CLONE_INTO_CGROUP, empty check, usage, rmdir)")
    cgroup.remove()
case .failure(let why):
    say("  launcher, cgroup/task  not measured: \(why)")
}

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
