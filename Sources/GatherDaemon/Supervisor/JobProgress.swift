import Gather
import GatherSpool
import Synchronization

/// The live side of one running job, shared by its task bodies (which run on
/// the engine's child tasks and the launcher's threads) and the supervisor:
/// the process groups for `state.json` and the count of running processes
/// for `STATUS=`.
///
/// `state.json` is rewritten when a process starts or ends, so recovery after
/// a crash knows which process groups to kill (SPEC §3).
final class JobProgress: Sendable {
    private struct State {
        var file: JobStateFile
        var running = 0
        var writeError: SpoolError?
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
                state.file.tasks[index].status = "running"
                state.file.tasks[index].attempts = attempt
                state.file.tasks[index].pid = pid
            }
        }
    }

    func processEnded(task: String, pid: Int32?) {
        update { state in
            state.running = max(0, state.running - 1)
            if let pid { state.file.processGroups.removeAll { $0.pgid == pid } }
            if let index = state.file.tasks.firstIndex(where: { $0.name == task }) {
                state.file.tasks[index].pid = nil
            }
        }
    }

    func taskEnded(_ result: TaskResult) {
        update { state in
            if let index = state.file.tasks.firstIndex(where: { $0.name == result.name }) {
                state.file.tasks[index].status = result.outcome.rawValue
                state.file.tasks[index].attempts = result.attempts
            }
        }
    }

    func failing() {
        update { $0.file.phase = .failing }
    }

    /// Applies a change and writes the file under the lock, so writes never
    /// overtake each other. A failed write is kept: the record decides.
    private func update(_ change: (inout State) -> Void) {
        state.withLock { state in
            change(&state)
            do throws(SpoolError) {
                try spool.writeState(state.file)
            } catch {
                state.writeError = error
            }
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
