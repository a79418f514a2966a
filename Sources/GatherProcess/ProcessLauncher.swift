import GatherSystem
import CLinux
import CSpawn
import Glibc
import Synchronization

/// Starts task processes in the state SPEC §4 asks for and hands them to the
/// two event threads (exits, output).
///
/// Use ``shared``; one launcher per process is enough, since its threads serve every child.
public final class ProcessLauncher: Sendable {
    /// The process-wide launcher (its threads start on first use).
    public static var shared: ProcessLauncher {
        get throws(SystemCallError) { try sharedLauncher.get() }
    }
    private static let sharedLauncher: Result<ProcessLauncher, SystemCallError> = {
        do throws(SystemCallError) { return .success(try ProcessLauncher()) } catch { return .failure(error) }
    }()

    /// The soft `RLIMIT_NOFILE` the process started with, once
    /// ``raiseFileLimit()`` raised it; tasks get this one back.
    private static let originalFileLimit = Mutex<rlimit?>(nil)

    private let watcher: ChildWatcher
    private let reader: OutputReader
    private let devNull: Int32

    init() throws(SystemCallError) {
        watcher = try ChildWatcher()
        reader = try OutputReader()
        devNull = try SystemCall.call("open /dev/null") { open("/dev/null", O_RDONLY | O_CLOEXEC) }.get()
    }

    /// Raises this process's soft `RLIMIT_NOFILE` to the hard limit (SPEC §9);
    /// processes started afterwards get the original soft limit back.
    /// Returns the (original soft, new soft) limits.
    @discardableResult
    public static func raiseFileLimit() throws(SystemCallError) -> (original: UInt64, raised: UInt64) {
        try originalFileLimit.withLock { saved throws(SystemCallError) in
            var limit = rlimit()
            _ = try SystemCall.call("getrlimit") { getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }.get()
            let original = saved ?? limit
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            _ = try SystemCall.call("setrlimit") { setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) }.get()
            saved = original
            return (UInt64(original.rlim_cur), UInt64(raised.rlim_cur))
        }
    }

    /// Makes this process a child subreaper (SPEC §9) and reaps every orphan
    /// reparented to it when it ends, on SIGCHLD.
    ///
    /// Call once, in the daemon. It reaps every child that reports with
    /// SIGCHLD, which is every child not started by this launcher: a process
    /// that also runs children of its own (a test runner) must not call it.
    public static func becomeSubreaper() throws(SystemCallError) {
        try OrphanReaper.start()
    }

    /// Starts `spec`'s process.
    ///
    /// - Parameters:
    ///   - spec: command, environment, working directory, identity.
    ///   - output: called on the output thread for each line (see
    ///     ``ProcessOutputHandler``); nil discards the output (the stderr tail is kept).
    /// - Returns: the running process, already watched.
    /// - Throws: ``SpawnError`` when it could not start (outcome `spawn-failed`).
    public func spawn(_ spec: ProcessSpec, output: ProcessOutputHandler? = nil) throws(SpawnError) -> RunningProcess {
        guard let program = spec.command.first else {
            throw SpawnError(code: .command, errno: ENOENT, context: "")
        }
        let out = try pipe()
        let err: (read: Int32, write: Int32)
        do { err = try pipe() } catch { SystemCall.close(out.read); SystemCall.close(out.write); throw error }

        var result = cspawn_result()
        let switchIdentity = spec.identity.map { getuid() == 0 && !Self.isCurrent($0) } ?? false
        let nofile = Self.originalFileLimit.withLock { $0 }
        let recordPrefix = spec.record?.prefix ?? []
        let exitPrefix = spec.record?.exitPrefix ?? []
        OrphanReaper.spawning {
        recordPrefix.withUnsafeBufferPointer { prefix in
        exitPrefix.withUnsafeBufferPointer { exitPrefix in
        withCStrings(spec.command) { argv in
            withCStrings(spec.environment) { envp in
                spec.searchPath.withCString { searchPath in
                    spec.cwd.withCString { cwd in
                        let groups = spec.identity?.groups ?? []
                        groups.withUnsafeBufferPointer { groups in
                            var request = cspawn_request()
                            request.argv = UnsafePointer(argv)
                            request.envp = UnsafePointer(envp)
                            request.search_path = searchPath
                            request.cwd = cwd
                            request.stdin_fd = devNull
                            request.stdout_fd = out.write
                            request.stderr_fd = err.write
                            request.switch_identity = switchIdentity ? 1 : 0
                            if let identity = spec.identity {
                                request.uid = identity.uid
                                request.gid = identity.gid
                                request.groups = groups.baseAddress
                                request.ngroups = Int32(groups.count)
                            }
                            if let nofile {
                                request.set_nofile = 1
                                request.nofile = nofile
                            }
                            request.umask = 0o022
                            request.record_fd = spec.record?.fd ?? -1
                            request.record_prefix = prefix.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
                            request.record_prefix_len = prefix.count
                            request.record_exit_prefix = exitPrefix.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
                            request.record_exit_prefix_len = exitPrefix.count
                            request.cgroup_fd = spec.cgroup?.fd ?? -1
                            _ = cspawn_spawn(&request, &result)
                        }
                    }
                }
            }
        }
        }
        }
        return result.stage == CSPAWN_STAGE_NONE.rawValue ? result.pid : nil
        }
        SystemCall.close(out.write)
        SystemCall.close(err.write)
        guard result.stage == CSPAWN_STAGE_NONE.rawValue else {
            SystemCall.close(out.read)
            SystemCall.close(err.read)
            throw Self.spawnError(result, spec: spec, program: program)
        }
        let process = RunningProcess(
            pid: result.pid, pidfd: result.pidfd, cgroup: spec.cgroup,
            startTime: result.start_time == 0 ? nil : result.start_time,
            recordError: spec.record == nil || result.record_error == 0 ? nil : Errno(result.record_error),
            watcher: watcher, reader: reader)
        // Pipes the output thread owns so far (it closes them at their end).
        var readersOwn = 0
        do {
            try reader.read(out.read, kind: .stdout, of: process, handler: output)
            readersOwn = 1
            try reader.read(err.read, kind: .stderr, of: process, handler: output)
            readersOwn = 2
            try watcher.watch(process)
        } catch {
            // Registration failed (out of memory for epoll, the watch limit):
            // the process must not run unwatched. Kill its group and reap it
            // here — an unreaped child of ours would also hold up the orphan
            // reaper — and close the pipes no event thread owns.
            process.signalGroup(SIGKILL)
            if readersOwn < 1 { SystemCall.close(out.read) }
            if readersOwn < 2 { SystemCall.close(err.read) }
            _ = cspawn_reap_pidfd(process.pidfd)
            process.exited(.signaled(SIGKILL))
            OrphanReaper.reaped(process.pid)
            throw SpawnError(code: .launcher, errno: error.code, context: program)
        }
        return process
    }

    /// Whether spawns into a cgroup use `clone3` with `CLONE_INTO_CGROUP`
    /// (false: the child moves itself, as on a kernel before 5.7). Tests set
    /// it to prove the other path.
    static var clonesIntoCgroup: Bool {
        get { cspawn_clone_into_cgroup() != 0 }
        set { cspawn_set_clone_into_cgroup(newValue ? 1 : 0) }
    }

    /// Runs `action` on the exit thread after `delay`. Unlike a `Task.sleep`
    /// it ignores Swift cancellation: a limit set inside a cancelled task (an
    /// attempt being stopped) still fires. Actions must be short (a signal,
    /// starting a task).
    public func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) {
        watcher.schedule(after: delay, action)
    }

    /// Waits until `cgroup` is empty (inotify on the exit thread); false when
    /// `limit` passed first.
    public func waitUntilEmpty(_ cgroup: Cgroup, within limit: Duration) async -> Bool {
        await watcher.waitUntilEmpty(cgroup, within: limit)
    }

    private func pipe() throws(SpawnError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        let result = SystemCall.call("pipe2") { clinux_pipe_cloexec(&fds, 0) }
        if case .failure(let error) = result {
            throw SpawnError(code: .launcher, errno: error.code, context: "pipe")
        }
        return (fds[0], fds[1])
    }

    private static func isCurrent(_ identity: ProcessIdentity) -> Bool {
        guard identity.uid == getuid(), identity.gid == getgid() else { return false }
        let count = getgroups(0, nil)
        guard count >= 0 else { return false }
        var groups = [gid_t](repeating: 0, count: Int(count))
        let got = getgroups(count, &groups)
        guard got >= 0 else { return false }
        return Set(groups.prefix(Int(got))) == Set(identity.groups)
    }

    private static func spawnError(_ result: cspawn_result, spec: ProcessSpec, program: String) -> SpawnError {
        switch cspawn_stage(rawValue: UInt32(result.stage)) {
        case CSPAWN_STAGE_CWD:
            return SpawnError(code: .cwd, errno: result.error, context: "cwd \(spec.cwd)")
        case CSPAWN_STAGE_IDENTITY:
            let name = spec.identity.map { $0.name ?? String($0.uid) } ?? String(getuid())
            return SpawnError(code: .identity, errno: result.error, context: "user \(name)")
        case CSPAWN_STAGE_EXEC:
            return SpawnError(code: .command, errno: result.error, context: program)
        case CSPAWN_STAGE_SETUP:
            return SpawnError(code: .setup, errno: result.error, context: program)
        case CSPAWN_STAGE_CGROUP:
            return SpawnError(code: .cgroup, errno: result.error, context: "cgroup \(spec.cgroup?.path ?? "?")")
        default:
            return SpawnError(code: .launcher, errno: result.error, context: program)
        }
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the call.
func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) -> R) -> R {
    // One allocation for all the bytes, one for the pointers.
    let total = strings.reduce(0) { $0 + $1.utf8.count + 1 }
    let bytes = UnsafeMutablePointer<CChar>.allocate(capacity: max(total, 1))
    let pointers = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: strings.count + 1)
    defer { bytes.deallocate(); pointers.deallocate() }
    var offset = 0
    for (i, string) in strings.enumerated() {
        pointers[i] = UnsafePointer(bytes + offset)
        for byte in string.utf8 {
            bytes[offset] = CChar(bitPattern: byte)
            offset += 1
        }
        bytes[offset] = 0
        offset += 1
    }
    pointers[strings.count] = nil
    return body(pointers)
}
