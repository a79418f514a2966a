import GatherProcess
import GatherSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where the Slurm client programs are (SPEC §12), found once per probe.
///
/// `srun` is looked up in the daemon's own `PATH` (the SPEC §4 task `PATH`
/// when the daemon has none): the same place an administrator's shell finds
/// it. `squeue`, `scancel` and `scontrol` are taken from `srun`'s directory,
/// so all four come from one installation; one missing there is looked up in
/// `PATH` too.
struct SlurmTools: Sendable, Equatable {
    let srun: String
    let squeue: String
    let scancel: String
    let scontrol: String

    /// The tools in `path` (a `PATH` value), or why not (`srun not found in PATH (/usr/bin:/bin)`).
    static func find(path: String) -> Result<SlurmTools, SlurmUnavailable> {
        let directories = path.split(separator: ":", omittingEmptySubsequences: true).map(String.init)
            .filter { $0.hasPrefix("/") }
        func lookup(_ name: String, first: String? = nil) -> String? {
            for directory in (first.map { [$0] } ?? []) + directories {
                let candidate = directory + "/" + name
                if access(candidate, X_OK) == 0 { return candidate }
            }
            return nil
        }
        guard let srun = lookup("srun") else {
            return .failure(SlurmUnavailable("srun not found in PATH (\(path))"))
        }
        let home = String(srun[..<(srun.lastIndex(of: "/") ?? srun.startIndex)])
        guard let squeue = lookup("squeue", first: home), let scancel = lookup("scancel", first: home),
              let scontrol = lookup("scontrol", first: home) else {
            return .failure(SlurmUnavailable("squeue, scancel or scontrol not found next to \(srun) or in PATH (\(path))"))
        }
        return .success(SlurmTools(srun: srun, squeue: squeue, scancel: scancel, scontrol: scontrol))
    }
}

/// Why `executor: slurm` cannot run here: the job's rejection line after `executor: slurm: `.
struct SlurmUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What one run of a Slurm client program gave.
struct SlurmCommandResult: Sendable {
    /// nil: it did not end within its limit (it was then stopped), or did not start.
    var status: ExitStatus?
    var stdout: [String]
    var stderr: [String]
    /// Why it could not start, if it did not.
    var spawnError: SpawnError?

    var succeeded: Bool { status == .exited(0) }

    /// The first stderr line, else the status: what a message quotes.
    var problem: String {
        if let spawnError { return "\(spawnError)" }
        guard let status else { return "no answer within the limit" }
        if let line = stderr.first(where: { !$0.isEmpty }) { return line }
        return "\(status)"
    }
}

/// Runs the Slurm client programs (`squeue`, `scancel`, `scontrol`) as
/// children of gatherd's launcher, as the daemon's user, with `PATH` and
/// the daemon's `SLURM_CONF` (if it has one) as their environment.
struct SlurmCommands: Sendable {
    let launcher: ProcessLauncher
    /// `PATH=…`, and `SLURM_CONF=…` when the daemon has it.
    let environment: [String]
    /// The daemon's own `SLURM_CONF`, if set: `srun` gets it too, so that
    /// it and `squeue`/`scancel` talk to the same cluster.
    let conf: String?

    init(launcher: ProcessLauncher, path: String) {
        self.launcher = launcher
        var environment = ["PATH=" + path]
        let conf = getenv("SLURM_CONF").map { String(cString: $0) }
        if let conf { environment.append("SLURM_CONF=" + conf) }
        self.environment = environment
        self.conf = conf
    }

    /// Runs `argv`, waiting at most `limit` (then SIGTERM, SIGKILL 1 s later).
    func run(_ argv: [String], limit: Duration) async -> SlurmCommandResult {
        let lines = Mutex<(out: [String], err: [String])>(([], []))
        let process: RunningProcess
        do {
            process = try launcher.spawn(ProcessSpec(command: argv, environment: environment)) { stream, _, line in
                let text = String(decoding: line, as: UTF8.self)
                lines.withLock { if stream == .stdout { $0.out.append(text) } else { $0.err.append(text) } }
            }
        } catch {
            return SlurmCommandResult(status: nil, stdout: [], stderr: [], spawnError: error)
        }
        // The limit is a timer on the launcher's exit thread, not a
        // `Task.sleep`: this also runs inside a cancelled attempt (a timeout,
        // a cancel request, a daemon stop), where a sleep ends at once and the
        // exit wait ignores cancellation. The timer and the reap both run on
        // that thread, so `status` tells whether the program ended first.
        let timedOut = Mutex(false)
        launcher.schedule(after: limit) {
            guard process.status == nil else { return }
            timedOut.withLock { $0 = true }
            process.terminate(grace: .seconds(1))
        }
        let status = await process.exitStatus()
        await process.stopRemaining(grace: .seconds(1))
        await process.outputFinished(within: .seconds(1))
        let (out, err) = lines.withLock { $0 }
        return SlurmCommandResult(status: timedOut.withLock { $0 } ? nil : status, stdout: out, stderr: err)
    }

    /// ``run(_:limit:)`` from a thread that may block (the supervisor's own
    /// thread at a claim or at recovery): the wait is on a condition, while
    /// the launcher's threads and the pool do the work.
    func runBlocking(_ argv: [String], limit: Duration) -> SlurmCommandResult {
        final class Box: @unchecked Sendable {
            let condition = Condition()
            var result: SlurmCommandResult?
        }
        let box = Box()
        // Unstructured by necessity: the caller is a thread that waits
        // synchronously (the supervisor's own executor), not an async context.
        Task.detached {
            let result = await run(argv, limit: limit)
            box.condition.lock()
            box.result = result
            box.condition.signal()
            box.condition.unlock()
        }
        box.condition.lock()
        defer { box.condition.unlock() }
        while true {
            if let result = box.result { return result }
            box.condition.wait()
        }
    }

    /// `squeue -h -t all -o '%i|%k' --name NAMES`: every job Slurm still
    /// knows with one of these names (running, pending, or ended less than
    /// `MinJobAge` ago), as comment → job ID.
    static func squeueArguments(_ tools: SlurmTools, names: [String]) -> [String] {
        [tools.squeue, "--noheader", "--states=all", "--format=%i|%k", "--name=" + names.joined(separator: ",")]
    }

    /// Parses ``squeueArguments(_:names:)`` output lines into comment → job ID.
    static func parseSqueue(_ lines: [String]) -> [String: Int64] {
        var ids: [String: Int64] = [:]
        for line in lines {
            guard let bar = line.firstIndex(of: "|"), let id = Int64(line[..<bar]) else { continue }
            ids[String(line[line.index(after: bar)...])] = id
        }
        return ids
    }
}
