#if canImport(Glibc)
import Glibc
#endif

/// One cgroup v2 directory gatherd made and owns: a job's (`job-ID`) or a
/// task's (`task-NAME`) (SPEC §11, docs/cgroups.md).
///
/// Every file is reached through the directory's descriptor (`openat`), which
/// is also what `clone3` takes to start a process inside it
/// (`CLONE_INTO_CGROUP`). Reads and writes are a few hundred bytes of
/// kernfs text; none blocks.
public final class Cgroup: Sendable {
    /// The absolute path (for messages and `rmdir`).
    public let path: String
    /// `O_RDONLY|O_DIRECTORY|O_CLOEXEC`; closed with the object.
    public let fd: Int32
    /// The controllers enabled in it (its parent's `cgroup.subtree_control`):
    /// which of `memory.peak`, `pids.peak`, `memory.events` exist.
    public let controllers: Set<CgroupController>

    init(path: String, fd: Int32, controllers: Set<CgroupController>) {
        self.path = path
        self.fd = fd
        self.controllers = controllers
    }

    deinit { SystemCall.close(fd) }

    /// Creates (or takes over, if a stuck one of the same name is left) the
    /// child `name`, writes `limits` to it, and, with `delegating`, enables
    /// this cgroup's controllers for the child's own children.
    /// - Throws: the failed call with the path (`mkdir /sys/fs/cgroup/…/job-a: Permission denied`).
    public func makeChild(
        _ name: String, limits: ResourceLimits = ResourceLimits(), delegating: Bool = false
    ) throws(SystemCallError) -> Cgroup {
        let childPath = path + "/" + name
        let made = SystemCall.call { mkdirat(fd, name, 0o755) }
        if case .failure(let e) = made, e.rawValue != EEXIST { throw SystemCallError("mkdir \(childPath)", errno: e) }
        let childFD = try SystemCall.call("open \(childPath)") {
            openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }.get()
        let child = Cgroup(path: childPath, fd: childFD, controllers: controllers)
        if delegating, !controllers.isEmpty {
            // Failure here only means a task cgroup lacks a controller; a
            // limit that needed it fails below, when it is written.
            _ = child.write(controllers.sorted().map { "+\($0.rawValue)" }.joined(separator: " "), to: "cgroup.subtree_control")
        }
        // Where swap is accounted, memory_max caps memory and swap together:
        // otherwise a task past the limit is swapped out, not stopped.
        let present = limits.filesWhereTheyExist.filter { faccessat(child.fd, $0.name, F_OK, 0) == 0 }
        for file in limits.files + present {
            if let e = child.write(file.value, to: file.name) {
                _ = child.remove()
                throw SystemCallError("write \(file.value) to \(childPath)/\(file.name)", errno: e)
            }
        }
        return child
    }

    /// Whether any process is in it or below (`cgroup.events` `populated 1`).
    /// A zombie is not: a process leaves its cgroup when it exits. False only
    /// when the file says so or the cgroup is gone (`ENOENT`, `ENODEV`); any
    /// other failure to read (out of descriptors) counts as populated, so a
    /// stop never skips its kill on a guess.
    public var isPopulated: Bool {
        switch readResult("cgroup.events") {
        case .success(let text): return Self.value(of: "populated", in: text) != 0
        case .failure(let e): return !(e == ENOENT || e == ENODEV)
        }
    }

    /// `cgroup.kill`: SIGKILL to every process in it and below, including
    /// those that fork meanwhile. Returns the errno, or nil.
    @discardableResult
    public func kill() -> Errno? { write("1", to: "cgroup.kill") }

    /// Sends `signal` to every process listed in `cgroup.procs` (its own, not
    /// its children's). A pid that ended meanwhile gets nothing (`ESRCH`).
    public func signalAll(_ signal: Int32) {
        for pid in processes() { _ = Glibc.kill(pid, signal) }
    }

    /// The processes in it now (`cgroup.procs`; not its children's).
    public func processes() -> [pid_t] {
        guard let text = read("cgroup.procs", limit: 1 << 22) else { return [] }
        return text.split(separator: UInt8(ascii: "\n")).compactMap { pid_t(String(decoding: $0, as: UTF8.self)) }
    }

    /// Sends `signal` to every process in it and in its children (any depth).
    public func signalSubtree(_ signal: Int32) {
        signalAll(signal)
        for name in childNames() { child(name)?.signalSubtree(signal) }
    }

    /// What everything that ran in it used (SPEC §6): `cpu.stat`
    /// `usage_usec` always; `memory.peak` and `pids.peak` where their
    /// controller is enabled. A cgroup keeps the usage of its removed children.
    public func usage() -> CgroupUsage {
        var usage = CgroupUsage()
        if let stat = read("cpu.stat") { usage.cpuUsec = Self.value(of: "usage_usec", in: stat) }
        if controllers.contains(.memory), let text = read("memory.peak") { usage.memoryPeak = Self.number(text) }
        if controllers.contains(.pids), let text = read("pids.peak") { usage.tasksPeak = Self.number(text) }
        return usage
    }

    /// `memory.events`: `oom`, the times its `memory.max` (or one below)
    /// was reached and the OOM killer ran, and `oom_kill`, the processes in
    /// it or below that any OOM killer ended; nil without the memory controller.
    public func oomEvents() -> (oom: UInt64, kills: UInt64)? {
        guard controllers.contains(.memory), let text = read("memory.events") else { return nil }
        return (Self.value(of: "oom", in: text) ?? 0, Self.value(of: "oom_kill", in: text) ?? 0)
    }

    /// The path of `cgroup.events`, for an inotify watch (the kernel reports
    /// `IN_MODIFY` on it when `populated` changes).
    public var eventsPath: String { path + "/cgroup.events" }

    /// `rmdir`: succeeds only once it is empty and has no children.
    @discardableResult
    public func remove() -> Errno? {
        switch SystemCall.call({ rmdir(path) }) {
        case .success: return nil
        case .failure(let e): return e == ENOENT ? nil : e
        }
    }

    /// Removes its child cgroups (any depth), then itself; the errno of the
    /// first that could not go (`EBUSY`: still populated), or nil.
    @discardableResult
    public func removeTree() -> Errno? {
        var failure: Errno?
        for name in childNames() {
            guard let child = try? SystemCall.call({ openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }).get() else { continue }
            let cgroup = Cgroup(path: path + "/" + name, fd: child, controllers: controllers)
            if let e = cgroup.removeTree(), failure == nil { failure = e }
        }
        if let e = remove(), failure == nil { failure = e }
        return failure
    }

    /// The names of its child cgroups (its subdirectories).
    public func childNames() -> [String] {
        guard case .success(let names) = DirectoryListing.names(in: fd) else { return [] }
        return names.compactMap { name in
            guard case .success(let st) = SystemCall.lstat(name, in: fd), st.st_mode & S_IFMT == S_IFDIR else { return nil }
            return String(decoding: name, as: UTF8.self)
        }
    }

    /// Opens an existing cgroup directory as it is (a benchmark's own, a
    /// test's), with no controllers assumed.
    public static func open(_ path: String) throws(SystemCallError) -> Cgroup {
        let fd = try SystemCall.call("open \(path)") { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }.get()
        return Cgroup(path: path, fd: fd, controllers: [])
    }

    /// Opens the existing child `name` (recovery).
    public func child(_ name: String) -> Cgroup? {
        guard case .success(let childFD) = SystemCall.call({ openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }) else {
            return nil
        }
        return Cgroup(path: path + "/" + name, fd: childFD, controllers: controllers)
    }

    // MARK: Files

    /// Writes `text` to the file `name` in one `write`; the errno, or nil.
    func write(_ text: String, to name: String) -> Errno? {
        let opened = SystemCall.call { openat(fd, name, O_WRONLY | O_CLOEXEC) }
        guard case .success(let file) = opened else {
            if case .failure(let e) = opened { return e }
            return nil
        }
        defer { SystemCall.close(file) }
        return SystemCall.writeAll(file, Array(text.utf8))
    }

    /// The whole file `name`, or nil when it cannot be read.
    func read(_ name: String, limit: Int = 4096) -> [UInt8]? {
        try? readResult(name, limit: limit).get()
    }

    /// The whole file `name`, or why it cannot be read.
    func readResult(_ name: String, limit: Int = 4096) -> Result<[UInt8], Errno> {
        SystemCall.call { openat(fd, name, O_RDONLY | O_CLOEXEC) }.flatMap { file in
            defer { SystemCall.close(file) }
            return SystemCall.readAll(file, limit: limit)
        }
    }

    /// The number after `key ` on its own line of a flat-keyed file
    /// (`cgroup.events`, `cpu.stat`, `memory.events`).
    static func value(of key: String, in text: [UInt8]) -> UInt64? {
        let key = Array(key.utf8) + [UInt8(ascii: " ")]
        for line in text.split(separator: UInt8(ascii: "\n")) where line.starts(with: key) {
            return number(Array(line.dropFirst(key.count)))
        }
        return nil
    }

    /// A file that holds one number (`memory.peak`); nil for `max` or anything else.
    static func number(_ text: [UInt8]) -> UInt64? {
        UInt64(String(decoding: text, as: UTF8.self).trimmingSuffixNewline)
    }
}

extension String {
    var trimmingSuffixNewline: String {
        var s = Substring(self)
        while s.last == "\n" || s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
