import Gather
import GatherJournal
import GatherProcess
import GatherSpool
import GatherSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A job's hooks (SPEC §11) and the daemon's `--on-failure` (SPEC §9), run
/// once the job's record is in its final place.
///
/// They run on the job's own child task of the daemon's main group, after
/// the supervisor has taken the job's end: the job no longer counts against
/// `--max-jobs`, and the supervisor never waits for a hook, so a hook never
/// delays another job. Each hook is a one-task group of the `Gather` engine
/// labelled like a task named after it (`GATHER_TASK=on_failure`,
/// `GATHER_ATTEMPT=1`, output lines `ID/on_failure[pid]`; the daemon's
/// `--on-failure` as `--on-failure`, its every run in the journal), with a 60 s
/// timeout (SIGTERM, SIGKILL after the job's `kill_grace`: `timed-out`); a
/// daemon stop cancels it (`cancelled`).
///
/// Where gatherd has cgroups, the hooks run in a cgroup of their own
/// (`job-ID~hooks-RUN/task-on_failure`): a hook's processes are counted and
/// stopped like a task's, and none is left in gatherd's own `supervisor/`
/// cgroup.
///
/// At most once per record: the hooks run from memory after the move, and
/// nothing on disk says they are due, so a crash (or power loss) between
/// the record's move and the hooks' end loses those hook runs — recovery
/// never runs a hook again, it could not tell a hook that ran from one that
/// did not. The record recovery itself writes for a job the crash
/// interrupted is new: its `on_end` runs (``RecoveredHooks``).
/// A hook still running at the crash is killed at the next start with the
/// crashed run's other `job-*` cgroups.
struct JobHooks: Sendable {
    let spool: SpoolDirectory
    let journal: JournalWriter
    let launcher: ProcessLauncher
    let configuration: DaemonConfiguration
    /// Hooks switch to the job's `run_as` user only when the daemon is root (SPEC §8).
    let daemonIsRoot: Bool
    /// gatherd's cgroup subtree; nil: process groups only.
    let cgroups: CgroupTree?

    /// The limit of every hook run (SPEC §11): 60 s. Debug builds read
    /// `GATHERD_TEST_HOOK_LIMIT_MS` so the end-to-end tests can show a hook
    /// stopped at its limit without waiting a minute; release builds have no
    /// such variable.
    static let limit: Duration = {
        #if DEBUG
        if let text = getenv("GATHERD_TEST_HOOK_LIMIT_MS").map({ String(cString: $0) }), let ms = Int(text), ms > 0 {
            return .milliseconds(ms)
        }
        #endif
        return .seconds(60)
    }()

    /// The job's hooks due for `record`, in SPEC order: `on_end`, then `on_failure`.
    static func due(_ record: JobRecord, job: JobFile) -> [(name: String, command: [String])] {
        var hooks: [(name: String, command: [String])] = []
        if let command = job.onEnd { hooks.append(("on_end", command)) }
        if record.state == .failed, let command = job.onFailure { hooks.append(("on_failure", command)) }
        return hooks
    }

    /// Whether anything runs after `record` is moved: a hook of the job, or `--on-failure`.
    static func wanted(_ record: JobRecord, job: JobFile, configuration: DaemonConfiguration) -> Bool {
        !due(record, job: job).isEmpty || (record.state == .failed && configuration.onFailure != nil)
    }

    /// Runs the job's hooks one after another, then rewrites the record with
    /// their `hooks` entries; then `--on-failure` for a failed job (journal only).
    /// The job's state is never changed.
    func run(_ record: JobRecord, start: JobStart) async {
        await run(record, job: start.job, identity: start.identity, killGrace: start.settings.killGrace)
    }

    /// The hooks of a job recorded without a run of this daemon's: one
    /// recovery found interrupted by a crash (`on_end` runs for every record).
    func run(_ record: JobRecord, job: ClaimedJob, identity: JobIdentity, killGrace: Duration) async {
        let file = job.job
        let recordPath = spool.finalRecordPath(record)
        var added: [(key: String, value: String)] = [("GATHER_STATE", record.state.rawValue), ("GATHER_RECORD", recordPath)]
        if let error = record.error { added.append(("GATHER_ERROR", error)) }

        let cgroup = makeCgroup(identity)
        var entries: [JobRecord.HookEntry] = []
        for (name, command) in Self.due(record, job: file) {
            let account = job.runAs
            let environment = TaskEnvironment(
                user: account.name, home: account.home, shell: account.shell, job: job.id, task: name,
                jobEnvironment: file.env, taskEnvironment: added)
            let spec = ProcessTaskSpec(
                name: name, command: command, environment: environment, cwd: file.cwd ?? "/",
                identity: daemonIsRoot
                    ? ProcessIdentity(uid: account.uid, gid: account.gid, groups: account.groups, name: account.name) : nil,
                killGrace: killGrace, cgroup: cgroup.map(Self.plan))
            entries.append(await runHook(
                spec, label: name, identity: identity, state: record.state, output: file.output == .journal))
        }
        if !entries.isEmpty {
            var updated = record
            updated.hooks = entries
            do {
                try spool.rewriteFinishedRecord(updated)
            } catch {
                journal.log(.daemonNotice(
                    "job \(identity.id): cannot add its hooks to its record: \(error)", warning: true))
            }
        }

        if record.state == .failed, let command = configuration.onFailure {
            // The daemon's user, as the administrator configured it; the job's
            // env is the job's business, not the administrator's hook's.
            let account = UserAccount.lookup(uid: geteuid())
            let environment = TaskEnvironment(
                user: account?.name ?? String(geteuid()), home: account?.home ?? "/", shell: account?.shell ?? "/bin/sh",
                job: job.id, task: "on_failure", taskEnvironment: added)
            let spec = ProcessTaskSpec(
                name: "on_failure", command: ["/bin/sh", "-c", command], environment: environment, cwd: "/",
                killGrace: killGrace, cgroup: cgroup.map(Self.plan))
            let entry = await runHook(spec, label: "--on-failure", identity: identity, state: record.state, output: true)
            // In no record: the journal holds its every run.
            if entry.outcome == .succeeded {
                journal.log(.hookSucceeded(
                    identity, hook: "--on-failure", state: record.state.rawValue,
                    elapsed: .milliseconds(entry.durationMS ?? 0)))
            }
        }
        if let cgroup { await removeCgroup(cgroup, identity: identity) }
    }

    /// The hooks' cgroup, without limits: the job's own cgroup was removed
    /// at its end. Nil without cgroups, or when it cannot be made (said in
    /// the journal; the hooks then run in gatherd's cgroup, as without cgroups).
    private func makeCgroup(_ identity: JobIdentity) -> Cgroup? {
        guard let cgroups else { return nil }
        do {
            // `job-ID~hooks-RUN`: `~` is in no job ID, so no job's cgroup has
            // this name, and the run makes it this run's alone (a new run of
            // the same ID may end while these hooks still run). Swept with
            // every `job-*` at the next start after a crash.
            return try cgroups.makeJob(identity.id + "~hooks-" + identity.run, limits: ResourceLimits())
        } catch {
            journal.log(.daemonNotice("job \(identity.id): cannot make a cgroup for its hooks: \(error)", warning: true))
            return nil
        }
    }

    private static func plan(_ cgroup: Cgroup) -> TaskCgroupPlan {
        TaskCgroupPlan(job: cgroup, limits: ResourceLimits(), jobLimits: ResourceLimits())
    }

    /// Each hook's cgroup was emptied at its end; this kills whatever is left and removes it.
    private func removeCgroup(_ cgroup: Cgroup, identity: JobIdentity) async {
        cgroup.kill()
        _ = await launcher.waitUntilEmpty(cgroup, within: .seconds(5))
        if let error = cgroup.removeTree() {
            journal.log(.daemonNotice(
                "job \(identity.id): cannot remove its hooks' cgroup \(cgroup.path): \(error); the next start removes it",
                warning: true))
        }
    }

    /// Runs one hook to its end and logs "hook failed" unless it succeeded.
    private func runHook(
        _ spec: ProcessTaskSpec, label: String, identity: JobIdentity, state: JobState, output: Bool
    ) async -> JobRecord.HookEntry {
        let task = spec.name
        // Output lines carry the label: `ID/on_failure[pid]` for the job's
        // hook, `ID/--on-failure[pid]` for the administrator's, as in their
        // "hook failed" entries.
        let handlers = output ? journal.outputHandlers(task: label, identity: identity) : nil
        let hook = GatherTask<ProcessExit>.process(spec, timeout: Self.limit, launcher: launcher, output: handlers)
        let results: GatheredResults<ProcessExit>
        do {
            results = try await gather([hook])
        } catch {
            fatalError("JobHooks: a group of one task without `after` cannot be ill-defined: \(error)")
        }
        let result = results.tasks[0]
        let exit: ProcessExit?
        switch results.lastAttempts[0] {
        case .success(let value)?: exit = value
        case .failure(let error as ProcessTaskError)?: exit = error.exit
        default: exit = nil
        }
        let entry = JobRecord.HookEntry(
            name: task, outcome: result.outcome, exitStatus: exit?.status.exitCode,
            durationMS: result.duration.map(Self.milliseconds))
        if result.outcome != .succeeded {
            let what: String
            if let failure = result.failure {
                what = failure.message
            } else {
                what = result.outcome == .cancelled ? "cancelled: daemon stopping" : result.outcome.rawValue
            }
            journal.log(.hookFailed(
                identity, hook: label, outcome: result.outcome, what: what, state: state.rawValue,
                exitStatus: exit?.status.exitCode, signal: exit?.status.signalName))
        }
        return entry
    }


    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// Opened by the supervisor once a job's record is durable and in its final
/// place (after the turn's commit and move); the job's child task waits on
/// it before it runs the hooks. Closed when that task is cancelled (a daemon
/// stop): the hooks then do not run.
final class RecordGate: Sendable {
    private enum State {
        case waiting(CheckedContinuation<Bool, Never>?)
        case opened
        case closed
    }
    private let state = Mutex<State>(.waiting(nil))

    init() {}

    /// The record is in place: the waiter runs the hooks.
    func open() { finish(.opened) }

    /// The hooks will not run.
    func close() { finish(.closed) }

    private func finish(_ end: State) {
        let waiter: CheckedContinuation<Bool, Never>? = state.withLock { state in
            guard case .waiting(let waiter) = state else { return nil }
            state = end
            return waiter
        }
        if case .opened = end { waiter?.resume(returning: true) } else { waiter?.resume(returning: false) }
    }

    /// True once opened; false when closed or the calling task is cancelled.
    func wait() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now: Bool? = state.withLock { state in
                    switch state {
                    case .waiting: state = .waiting(continuation); return nil
                    case .opened: return true
                    case .closed: return false
                    }
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            close()
        }
    }
}
