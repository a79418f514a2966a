import GatherProcess
import GatherSpool
import GatherSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// gatherd's side of `executor: slurm` (SPEC §12), one per daemon: whether
/// Slurm can take jobs here (checked at each claim, the answer kept for a few
/// seconds), the Slurm job IDs of running attempts (one poller for all), and
/// `scancel` by ID.
///
/// Slurm places and runs each attempt; gatherd keeps the policy, retries,
/// dependencies, timeouts and the record. An attempt is an `srun` child of
/// gatherd's launcher (``SlurmExecutor``), so output, exit status and the
/// stop path are the process layer's.
final class Slurm: Sendable {
    /// How long a probe's answer is kept: a burst of jobs probes once.
    static let probeLifetime = Duration.seconds(5)
    /// The longest a Slurm client program may take before gatherd gives up on it.
    static let commandLimit = Duration.seconds(10)
    /// The longest `scontrol ping` may take at a claim (the supervisor waits for it).
    static let probeLimit = Duration.seconds(5)

    let commands: SlurmCommands
    /// The `PATH` the tools are looked up in.
    let path: String
    let tracker: SlurmJobTracker
    /// Where a failed `scancel` is reported: the daemon logs it to the
    /// journal as a warning.
    let warn: @Sendable (String) -> Void

    private struct Probe {
        var at: ContinuousClock.Instant
        var answer: Result<SlurmTools, SlurmUnavailable>
    }
    private let probe = Mutex<Probe?>(nil)
    /// The tools the last probe found: the executor starts this `srun`.
    private let found = Mutex<SlurmTools?>(nil)

    /// - Parameter path: where to look for `srun`; the daemon's `PATH`, else the SPEC §4 task `PATH`.
    ///   - warn: gets each line about an `scancel` that failed.
    init(
        launcher: ProcessLauncher, path: String? = getenv("PATH").map { String(cString: $0) },
        warn: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        let path = path.flatMap { $0.isEmpty ? nil : $0 } ?? TaskEnvironment.defaultPath
        self.path = path
        self.warn = warn
        self.commands = SlurmCommands(launcher: launcher, path: path)
        self.tracker = SlurmJobTracker(commands: commands)
    }

    /// The tools, or why Slurm cannot take a job now: `srun` missing, or
    /// `scontrol ping` not answering `UP`. Kept ``probeLifetime``; blocks the
    /// calling thread (the supervisor's) for the probe when that is older.
    func availability() -> Result<SlurmTools, SlurmUnavailable> {
        let now = ContinuousClock.now
        if let kept = probe.withLock({ $0 }), kept.at.duration(to: now) < Self.probeLifetime { return kept.answer }
        let answer = check()
        probe.withLock { $0 = Probe(at: .now, answer: answer) }
        if case .success(let tools) = answer { found.withLock { $0 = tools } }
        return answer
    }

    /// The tools the last successful probe found (a job runs only after its
    /// claim's probe succeeded), else a lookup now.
    var tools: SlurmTools? {
        if let tools = found.withLock({ $0 }) { return tools }
        return try? SlurmTools.find(path: path).get()
    }

    private func check() -> Result<SlurmTools, SlurmUnavailable> {
        let tools: SlurmTools
        switch SlurmTools.find(path: path) {
        case .success(let t): tools = t
        case .failure(let error): return .failure(error)
        }
        let ping = commands.runBlocking([tools.scontrol, "ping"], limit: Self.probeLimit)
        // `Slurmctld(primary) at vm is UP`; exit status 1 when it is DOWN.
        guard ping.succeeded, ping.stdout.contains(where: { $0.contains(" is UP") }) else {
            let said = (ping.stdout + ping.stderr).first { !$0.isEmpty } ?? ping.problem
            return .failure(SlurmUnavailable("slurm does not answer (scontrol ping: \(said))"))
        }
        return .success(tools)
    }

    /// `scancel` of these Slurm job IDs, never by name (another gatherd may
    /// use the same job names). `scancel` exits 0 for a job that already
    /// ended, so a non-zero exit, no answer within ``commandLimit`` or no
    /// `scancel` at all is a ``warn`` line: `whose` (`job nightly: task
    /// dump`), the IDs and what went wrong.
    func cancel(_ ids: [Int64], whose: String) async {
        guard !ids.isEmpty else { return }
        guard let tools else {
            warn(Self.cancelFailure(ids, whose: whose, problem: "no scancel in PATH (\(path))"))
            return
        }
        let result = await commands.run([tools.scancel] + ids.map(String.init), limit: Self.commandLimit)
        if !result.succeeded { warn(Self.cancelFailure(ids, whose: whose, problem: result.problem)) }
    }

    /// ``cancel(_:whose:)`` from the supervisor's thread (recovery at start).
    func cancelBlocking(_ ids: [Int64], whose: String) {
        guard !ids.isEmpty else { return }
        guard let tools else {
            warn(Self.cancelFailure(ids, whose: whose, problem: "no scancel in PATH (\(path))"))
            return
        }
        let result = commands.runBlocking([tools.scancel] + ids.map(String.init), limit: Self.commandLimit)
        if !result.succeeded { warn(Self.cancelFailure(ids, whose: whose, problem: result.problem)) }
    }

    /// `job nightly: task dump: cannot cancel Slurm job 41 (scancel: error: …)`.
    static func cancelFailure(_ ids: [Int64], whose: String, problem: String) -> String {
        let jobs = ids.count == 1 ? "job \(ids[0])" : "jobs " + ids.map(String.init).joined(separator: " ")
        return "\(whose): cannot cancel Slurm \(jobs) (\(problem))"
    }

    /// The Slurm job name of a task's attempts (SPEC §12): `gatherd/ID/TASK`.
    static func jobName(job: String, task: String) -> String { "gatherd/\(job)/\(task)" }

    /// The comment that tells one attempt from every other, also from another
    /// gatherd's with the same job ID: the run's random ID, task index, attempt.
    static func comment(run: String, index: Int, attempt: Int) -> String { "gatherd:\(run):\(index):\(attempt)" }
}

/// Learns the Slurm job IDs of attempts that started: one poller for all of
/// them, never a timer per attempt. While attempts wait for their ID it runs
/// `squeue` for their job names and matches each attempt's unique comment,
/// after 20 ms, then backing off to once a second; with none waiting it does
/// not run.
final class SlurmJobTracker: Sendable {
    struct Pending: Sendable {
        let name: String
        let found: @Sendable (Int64) -> Void
    }
    private struct State {
        var pending: [String: Pending] = [:]
        var polling = false
        /// Set when an attempt is added, so the poller looks again soon.
        var fresh = false
    }
    private let state = Mutex(State())
    private let commands: SlurmCommands
    /// The first and the longest wait between two polls.
    static let firstPoll = Duration.milliseconds(20)

    /// Debug builds read `GATHERD_TEST_SLURM_UNLEARNED`: no attempt's Slurm
    /// job ID is ever learned, so a test can show that recovery still finds
    /// (by the run's comment) and cancels the jobs of a run that crashed
    /// before it learned them. Release builds have no such variable.
    static let learnsNothing: Bool = {
        #if DEBUG
        return getenv("GATHERD_TEST_SLURM_UNLEARNED") != nil
        #else
        return false
        #endif
    }()
    static let slowestPoll = Duration.seconds(1)

    init(commands: SlurmCommands) { self.commands = commands }

    /// Learn the ID of the Slurm job with comment `comment` (named `name`); `found` gets it once.
    func watch(comment: String, name: String, tools: SlurmTools, found: @escaping @Sendable (Int64) -> Void) {
        guard !Self.learnsNothing else { return }
        let start = state.withLock { state in
            state.pending[comment] = Pending(name: name, found: found)
            state.fresh = true
            defer { state.polling = true }
            return !state.polling
        }
        // One poller for every waiting attempt, outliving the attempt that
        // started it (it ends itself when none waits): so unstructured.
        if start { Task.detached { await self.poll(tools: tools) } }
    }

    /// Stop looking for `comment`; returns whether it was still waiting.
    @discardableResult
    func forget(_ comment: String) -> Bool { state.withLock { $0.pending.removeValue(forKey: comment) != nil } }

    /// One `squeue` now for a single attempt (its srun ended before the poller saw it).
    func lookup(comment: String, name: String, tools: SlurmTools) async -> Int64? {
        guard !Self.learnsNothing else { return nil }
        let result = await commands.run(SlurmCommands.squeueArguments(tools, names: [name]), limit: Slurm.commandLimit)
        return SlurmCommands.parseSqueue(result.stdout)[comment]
    }

    private func poll(tools: SlurmTools) async {
        var pause = Self.firstPoll
        while true {
            let names: [String]? = state.withLock { state in
                if state.pending.isEmpty {
                    state.polling = false
                    return nil
                }
                if state.fresh {
                    state.fresh = false
                    pause = Self.firstPoll
                }
                return Array(Set(state.pending.values.map(\.name))).sorted()
            }
            guard let names else { return }
            try? await Task.sleep(for: pause)
            // A command line stays short: at most 200 names a call.
            var ids: [String: Int64] = [:]
            for start in stride(from: 0, to: names.count, by: 200) {
                let part = Array(names[start..<min(start + 200, names.count)])
                let result = await commands.run(SlurmCommands.squeueArguments(tools, names: part), limit: Slurm.commandLimit)
                ids.merge(SlurmCommands.parseSqueue(result.stdout)) { a, _ in a }
            }
            let resolved: [(Pending, Int64)] = state.withLock { state in
                var resolved: [(Pending, Int64)] = []
                for (comment, id) in ids {
                    if let pending = state.pending.removeValue(forKey: comment) { resolved.append((pending, id)) }
                }
                return resolved
            }
            for (pending, id) in resolved { pending.found(id) }
            pause = min(pause * 2, Self.slowestPoll)
        }
    }
}
