import GatherSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `active/ID/state.log`: what changed in a running job since its
/// `state.json` was written (docs/state-json.md). One JSON object per line,
/// appended with one `write(2)` on an `O_APPEND` descriptor, never rewritten
/// and never fsynced, so what a process start or end costs does not grow with
/// the job: a 10,000-task job appends a line, where it used to rewrite a file
/// of 10,000 entries.
///
///     {"event":"started","index":0,"task":"dump","attempt":1,"pgid":4242,"start_time":1234567}
///     {"event":"exited","index":0,"task":"dump","pgid":4242}
///     {"event":"ended","index":0,"task":"dump","status":"failed","attempts":1}
///     {"event":"slurm","index":0,"task":"dump","attempt":1,"slurm_job":123}
///     {"event":"failing"}
///
/// A `started` line is written by the child itself between `clone` and
/// `exec` (``startedPrefix(index:task:attempt:)``, the launcher's
/// `SpawnRecord`): the group is in the log before the task runs anything, so
/// a daemon killed at any moment leaves no process recovery cannot see.
///
/// Why no fsync: the log matters within this boot only. A crashed daemon's
/// writes are in the page cache, which survives it; a power loss ends every
/// task and changes the boot ID, and recovery then kills nothing.
///
/// A write that fails (a full disk) keeps its line, and every later one, in
/// memory in order; ``takeWriteError()`` reports the first failure and
/// ``retry()`` appends them once the disk has room (the supervisor's retry).
public final class ProgressLog: Sendable {
    /// The file's name in the job's directory.
    public static let fileName = "state.log"

    /// The `O_APPEND` descriptor; closed with the log.
    public let descriptor: Int32
    private let label: String

    private struct State {
        /// Lines not written yet (a write failed), in order.
        var pending: [UInt8] = []
        /// A line may have been written in part: the next write starts a new line.
        var tornLine = false
        var writeError: SpoolError?
        var closed = false
    }
    private let state = Mutex(State())

    init(descriptor: Int32, label: String) {
        self.descriptor = descriptor
        self.label = label
    }

    deinit { SystemCall.close(descriptor) }

    // MARK: Lines

    /// The `started` line up to and including `"pgid":`, for the child to
    /// complete with its pid and start time (`SpawnRecord`).
    public static func startedPrefix(index: Int, task: String, attempt: Int) -> [UInt8] {
        var line = ByteWriter(capacity: 96 + task.utf8.count)
        line.append(#"{"event":"started","index":"#)
        line.append(decimal: Int64(index))
        line.append(#","task":"#)
        JSONValue.appendString(task, to: &line)
        line.append(#","attempt":"#)
        line.append(decimal: Int64(attempt))
        line.append(#","pgid":"#)
        return line.bytes
    }

    /// The `exited` line up to and including `"pgid":`, for a child whose
    /// exec failed after its `started` line (`SpawnRecord`).
    public static func exitedPrefix(index: Int, task: String) -> [UInt8] {
        var line = taskLine("exited", index: index, task: task)
        line.append(#","pgid":"#)
        return line.bytes
    }

    /// A `started` line written by the daemon: when the child could not append its own.
    public func started(index: Int, task: String, attempt: Int, pgid: Int32, startTime: UInt64) {
        var line = ByteWriter(capacity: 128 + task.utf8.count)
        // After the child's write failed (perhaps in part): a line of its own.
        line.append(0x0A)
        line.append(contentsOf: Self.startedPrefix(index: index, task: task, attempt: attempt))
        line.append(decimal: Int64(pgid))
        line.append(#","start_time":"#)
        line.append(decimal: startTime)
        line.append("}\n")
        append(line.bytes)
    }

    /// The process group `pgid` of task `index` is gone.
    public func exited(index: Int, task: String, pgid: Int32) {
        var line = Self.taskLine("exited", index: index, task: task)
        line.append(#","pgid":"#)
        line.append(decimal: Int64(pgid))
        line.append("}\n")
        append(line.bytes)
    }

    /// Task `index` has its final status after `attempts` attempts.
    public func ended(index: Int, task: String, status: JobStateFile.TaskProgress.Status, attempts: Int) {
        var line = Self.taskLine("ended", index: index, task: task)
        line.append(#","status":"#)
        JSONValue.appendString(status.rawValue, to: &line)
        line.append(#","attempts":"#)
        line.append(decimal: Int64(attempts))
        line.append("}\n")
        append(line.bytes)
    }

    /// Attempt `attempt` of task `index` runs as Slurm job `job` (`executor: slurm`).
    public func slurmJob(index: Int, task: String, attempt: Int, job: Int64) {
        var line = Self.taskLine("slurm", index: index, task: task)
        line.append(#","attempt":"#)
        line.append(decimal: Int64(attempt))
        line.append(#","slurm_job":"#)
        line.append(decimal: job)
        line.append("}\n")
        append(line.bytes)
    }

    /// The job's state becomes `failing`.
    public func failing() {
        append(Array(#"{"event":"failing"}"#.utf8) + [0x0A])
    }

    /// `{"event":EVENT,"index":I,"task":NAME`, the start of a task's line.
    private static func taskLine(_ event: StaticString, index: Int, task: String) -> ByteWriter {
        var line = ByteWriter(capacity: 112 + task.utf8.count)
        line.append(#"{"event":""#)
        line.append(event)
        line.append(#"","index":"#)
        line.append(decimal: Int64(index))
        line.append(#","task":"#)
        JSONValue.appendString(task, to: &line)
        return line
    }

    // MARK: Writing

    /// Appends `line` (or queues it behind lines a failed write kept).
    private func append(_ line: [UInt8]) {
        state.withLock { state in
            guard !state.closed else { return }
            if state.pending.isEmpty {
                if let errno = SystemCall.writeAll(descriptor, line) {
                    state.pending = line
                    state.tornLine = true
                    if state.writeError == nil {
                        state.writeError = SpoolError(.recordWrite, "append \(label)/\(Self.fileName)", errno: errno.rawValue)
                    }
                }
            } else {
                state.pending += line
            }
        }
    }

    /// The first write that failed since the last call, if any.
    public func takeWriteError() -> SpoolError? {
        state.withLock { state in
            defer { state.writeError = nil }
            return state.writeError
        }
    }

    /// Appends the lines a failed write kept.
    /// - Throws: the write's error; they stay kept.
    public func retry() throws(SpoolError) {
        let error: SpoolError? = state.withLock { state in
            guard !state.closed, !state.pending.isEmpty else { return nil }
            // A line cut short by the failure is ended first, so it stays one
            // unreadable line (readers skip it) and the kept ones read whole.
            let bytes = (state.tornLine ? [0x0A] : []) + state.pending
            if let errno = SystemCall.writeAll(descriptor, bytes) {
                return SpoolError(.recordWrite, "append \(label)/\(Self.fileName)", errno: errno.rawValue)
            }
            state.pending = []
            state.tornLine = false
            return nil
        }
        if let error { throw error }
    }

    /// No more lines: the job's record takes over.
    public func close() {
        state.withLock { $0.closed = true }
    }

    // MARK: Reading

    /// Applies the lines of a log to the `state.json` they follow: the task
    /// statuses, attempts and pids, the live process groups and the phase.
    /// A line that does not read (cut short by a full disk) or does not fit
    /// the job (an index past its tasks) is skipped.
    public static func apply(_ bytes: [UInt8], to state: inout JobStateFile) {
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            defer { start = end + 1 }
            guard end > start, let line = StrictJSONReader.read(Array(bytes[start..<end])).value else { continue }
            apply(line, to: &state)
        }
    }

    private static func apply(_ line: JSONValue, to state: inout JobStateFile) {
        func int(_ key: String) -> Int64? { if case .integer(let i)? = line[key] { return i } else { return nil } }
        guard case .string(let event)? = line["event"] else { return }
        if event == "failing" {
            state.phase = .failing
            return
        }
        guard let rawIndex = int("index"), let index = Int(exactly: rawIndex), state.tasks.indices.contains(index) else { return }
        switch event {
        case "started":
            guard let attempt = int("attempt"), let pgid = int("pgid").flatMap({ Int32(exactly: $0) }) else { return }
            state.tasks[index].status = .running
            state.tasks[index].attempts = Int(attempt)
            state.tasks[index].pid = pgid
            // Start time 0: the child could not read it; the group cannot be told from a reused PID.
            if let startTime = int("start_time"), startTime > 0 {
                state.processGroups.append(.init(task: state.tasks[index].name, pgid: pgid, startTime: UInt64(startTime)))
            }
        case "exited":
            guard let pgid = int("pgid").flatMap({ Int32(exactly: $0) }) else { return }
            // The earliest with that pgid: a reused pid's newer group stays.
            if let first = state.processGroups.firstIndex(where: { $0.pgid == pgid }) { state.processGroups.remove(at: first) }
            if state.tasks[index].pid == pgid { state.tasks[index].pid = nil }
        case "slurm":
            guard let attempt = int("attempt"), let job = int("slurm_job") else { return }
            state.slurmJobs.append(.init(task: state.tasks[index].name, attempt: Int(attempt), id: job))
        case "ended":
            guard case .string(let raw)? = line["status"], let status = JobStateFile.TaskProgress.Status(rawValue: raw),
                  let attempts = int("attempts") else { return }
            state.tasks[index].status = status
            state.tasks[index].attempts = Int(attempts)
            state.tasks[index].pid = nil
        default:
            return
        }
    }
}

extension SpoolDirectory {
    /// Creates an empty `state.log` in the job directory `dir` (replacing a
    /// former run's), owned like `state.json`, open for appending.
    func createProgressLog(in dir: Int32, gid: UInt32, label: String) throws(SpoolError) -> ProgressLog {
        let name = ProgressLog.fileName
        _ = SystemCall.call { unlinkat(dir, name, 0) }
        let fd = try SystemCall.sys("create \(label)/\(name)", code: .recordWrite) {
            openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o640)
        }
        do throws(SpoolError) {
            try setOwner(fd, gid: gid, mode: 0o640, label: "\(label)/\(name)")
        } catch {
            SystemCall.close(fd)
            throw error
        }
        return ProgressLog(descriptor: fd, label: label)
    }
}
