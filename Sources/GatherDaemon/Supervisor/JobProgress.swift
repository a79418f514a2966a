import Dispatch
import Gather
import GatherProcess
import GatherSpool
import Synchronization

/// The live side of one running job, shared by its task bodies (which run on
/// the engine's child tasks and the launcher's threads) and the supervisor:
/// the process groups for `state.json` and the count of running processes
/// for `STATUS=`.
///
/// `state.json` is rewritten when a process starts or ends, so recovery after
/// a crash knows which process groups to kill (SPEC §3). The file lists every
/// task, so a 10,000-task job must not rewrite it per process: a write happens
/// at once when the last one is older than ``minimumInterval``, otherwise once
/// that interval has passed (a crash can miss at most that much).
final class JobProgress: Sendable {
    /// At most one `state.json` write per job in this time.
    static let minimumInterval = Duration.milliseconds(100)

    private struct State {
        var file: JobStateFile
        var running = 0
        var writeError: SpoolError?
        var lastWrite: ContinuousClock.Instant?
        var dirty = false
        var flushScheduled = false
        /// Set when the job ended: its directory is about to move.
        var closed = false
        /// The last attempt that exited, per task: a timed-out task's error is
        /// the engine's, so its journal entry takes the signal from here.
        var exits: [String: (attempt: Int, exit: ProcessExit)] = [:]
    }
    private let state: Mutex<State>
    private let spool: SpoolDirectory

    init(spool: SpoolDirectory, state: JobStateFile) {
        self.spool = spool
        self.state = Mutex(State(file: state))
    }

    /// Processes of this job running now.
    var runningProcesses: Int { state.withLock { $0.running } }

    /// The state file as last written.
    var file: JobStateFile { state.withLock { $0.file } }

    func processStarted(task: String, attempt: Int, pid: Int32, startTime: UInt64?) {
        update { state in
            state.running += 1
            if let startTime {
                state.file.processGroups.append(.init(task: task, pgid: pid, startTime: startTime))
            }
            if let index = state.file.tasks.firstIndex(where: { $0.name == task }) {
                state.file.tasks[index].status = .running
                state.file.tasks[index].attempts = attempt
                state.file.tasks[index].pid = pid
            }
        }
    }

    func processEnded(task: String, attempt: Int, exit: ProcessExit) {
        update { state in
            state.running = max(0, state.running - 1)
            state.exits[task] = (attempt, exit)
            state.file.processGroups.removeAll { $0.pgid == exit.pid }
            if let index = state.file.tasks.firstIndex(where: { $0.name == task }) {
                state.file.tasks[index].pid = nil
            }
        }
    }

    /// What `waitpid` saw for `attempt` of `task`, if that attempt ran and ended.
    func exit(of task: String, attempt: Int) -> ProcessExit? {
        state.withLock { state in
            guard let last = state.exits[task], last.attempt == attempt else { return nil }
            return last.exit
        }
    }

    func taskEnded(_ result: TaskResult) {
        update { state in
            if let index = state.file.tasks.firstIndex(where: { $0.name == result.name }) {
                state.file.tasks[index].status = .ended(result.outcome)
                state.file.tasks[index].attempts = result.attempts
            }
        }
    }

    func failing() {
        update { $0.file.phase = .failing }
    }

    /// The first `state.json` write that failed since the last call, if any
    /// (SPEC §3: a spool write error pauses claiming; the supervisor looks once a second).
    func takeWriteError() -> SpoolError? {
        state.withLock { state in
            defer { state.writeError = nil }
            return state.writeError
        }
    }

    /// Writes `state.json` now (the supervisor's retry while claiming is paused).
    /// - Throws: the write's error; it stays pending for ``takeWriteError()`` too.
    func retryWrite() throws(SpoolError) {
        let error: SpoolError? = state.withLock { state in
            guard !state.closed else { return nil }
            state.writeError = nil
            write(&state, now: .now)
            return state.writeError
        }
        if let error { throw error }
    }

    /// No more writes: the job's record takes over.
    func close() {
        state.withLock { $0.closed = true }
    }

    /// Applies a change and writes the file (now, or when the interval has
    /// passed) under the lock, so writes never overtake each other. A failed
    /// write is kept until the supervisor takes it (``takeWriteError()``); the
    /// first failure is kept, later ones of the same episode add nothing.
    private func update(_ change: (inout State) -> Void) {
        let flushAfter: Duration? = state.withLock { state in
            change(&state)
            guard !state.closed else { return nil }
            state.dirty = true
            let now = ContinuousClock.now
            if let last = state.lastWrite, last.duration(to: now) < Self.minimumInterval {
                guard !state.flushScheduled else { return nil }
                state.flushScheduled = true
                return Self.minimumInterval - last.duration(to: now)
            }
            write(&state, now: now)
            return nil
        }
        if let flushAfter {
            let nanoseconds = flushAfter.components.seconds * 1_000_000_000 + flushAfter.components.attoseconds / 1_000_000_000
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in flush() }
        }
    }

    private func flush() {
        state.withLock { state in
            state.flushScheduled = false
            guard state.dirty, !state.closed else { return }
            write(&state, now: .now)
        }
    }

    private func write(_ state: inout State, now: ContinuousClock.Instant) {
        state.dirty = false
        state.lastWrite = now
        do throws(SpoolError) {
            try spool.writeState(state.file, durable: false)
        } catch {
            if state.writeError == nil { state.writeError = error }
        }
    }
}

extension SpoolError {
    /// The cause as the spool write error entry states it (`No space left on
    /// device`), or the whole description when no system call failed.
    var reason: String { errno.map { "\($0)" } ?? description }

    /// What failed and why, without the code's name (`STATUS=` and the journal
    /// entry already say "spool write error"): `write active/x/.state.json.tmp: No space left on device`.
    var located: String { "\(context): \(reason)" }
}
