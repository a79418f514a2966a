import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// `--cgroup auto|off|PATH` (SPEC §9, §11).
public enum CgroupSetting: Sendable, Equatable, CustomStringConvertible {
    /// gatherd's own cgroup (as a service: the one `Delegate=yes` hands it).
    case auto
    /// Process groups only.
    case off
    /// An existing directory under the cgroup2 mount.
    case path(String)

    /// Reads the flag's value; nil when it is none of the three.
    public init?(_ text: String) {
        switch text {
        case "auto": self = .auto
        case "off": self = .off
        default:
            guard text.hasPrefix("/") else { return nil }
            self = .path(text)
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .off: return "off"
        case .path(let path): return path
        }
    }
}

/// What gatherd has on this host (SPEC §11): its cgroup subtree, or why not.
public enum CgroupAvailability: Sendable {
    case on(CgroupTree)
    case off(reason: String)

    /// The subtree, when gatherd has one.
    public var tree: CgroupTree? {
        if case .on(let tree) = self { return tree }
        return nil
    }

    /// The start line: `cgroups: kill, accounting` (then `, limits memory cpu
    /// pids` for the controllers it can limit with), or `cgroups: off (WHY)`.
    public var startLine: String {
        switch self {
        case .on(let tree): return "cgroups: " + tree.summary
        case .off(let reason): return "cgroups: off (\(reason))"
        }
    }

    /// Why `limits` cannot be enforced here, one line per limit (`key`,
    /// reason); empty when all can.
    public func refusals(of limits: ResourceLimits) -> [(key: String, reason: String)] {
        limits.needs.compactMap { need in
            switch self {
            case .off(let reason):
                return (need.key, "cannot be enforced here: cgroups: off (\(reason))")
            case .on(let tree):
                guard !tree.root.controllers.contains(need.controller) else { return nil }
                return (need.key, "cannot be enforced here: the \(need.controller.rawValue) controller is not "
                        + "delegated to gatherd's cgroup \(tree.root.path) (cgroups: \(tree.summary))")
            }
        }
    }
}

/// gatherd's cgroup subtree (docs/cgroups.md):
///
///     BASE/                 its own cgroup (or --cgroup PATH)
///       supervisor/         gatherd itself (cgroup v2 allows no processes in inner nodes)
///       job-ID/             one per running job: the job's limits and usage
///         task-NAME/        one per running task attempt: every process of the task
///
/// Made by ``prepare(_:)``; job cgroups by ``makeJob(_:limits:)``.
public final class CgroupTree: Sendable {
    /// BASE; its `controllers` are those enabled for the jobs.
    public let root: Cgroup

    init(root: Cgroup) { self.root = root }

    /// `kill, accounting`, then `limits` and the controllers, if any.
    public var summary: String {
        let limits = root.controllers.sorted().map(\.rawValue)
        return "kill, accounting" + (limits.isEmpty ? "" : ", limits " + limits.joined(separator: " "))
    }

    /// The prefix of a job's cgroup name (a bare ID could be `cgroup.procs`).
    public static let jobPrefix = "job-"
    /// The prefix of a task's cgroup name.
    public static let taskPrefix = "task-"

    /// Creates `job-ID` with the job's limits and its controllers enabled for its tasks.
    public func makeJob(_ id: String, limits: ResourceLimits) throws(SystemCallError) -> Cgroup {
        try root.makeChild(Self.jobPrefix + id, limits: limits, delegating: true)
    }

    /// The job cgroups present now: at start, those a previous run left.
    public func jobCgroups() -> [(id: String, cgroup: Cgroup)] {
        root.childNames().compactMap { name in
            guard name.hasPrefix(Self.jobPrefix), let cgroup = root.child(name) else { return nil }
            return (String(name.dropFirst(Self.jobPrefix.count)), cgroup)
        }
    }

    // MARK: Set-up

    /// Finds gatherd's subtree for `setting`, moves this process into
    /// `supervisor/` and enables the controllers it has for the jobs.
    ///
    /// With `auto`, whatever is missing is `.off` with the reason; with an
    /// explicit `PATH` it is an error (the administrator asked for it).
    public static func prepare(_ setting: CgroupSetting) -> Result<CgroupAvailability, CgroupSetupError> {
        let base: String
        switch setting {
        case .off:
            return .success(.off(reason: "--cgroup off"))
        case .path(let path):
            guard isCgroup2(path) else {
                return .failure(CgroupSetupError("--cgroup \(path): not a directory on a cgroup2 file system"))
            }
            // The root is every service's parent: gatherd would take its
            // `job-*` for its own, and systemd-nspawn uses `supervisor` there.
            guard !cgroup2Mounts().contains(where: { sameDirectory($0.point, path) }) else {
                return .failure(CgroupSetupError("--cgroup \(path): the root of the cgroup2 file system; give a directory below it"))
            }
            base = path
        case .auto:
            switch ownCgroup() {
            case .failure(let reason): return .success(.off(reason: reason.message))
            case .success(let path): base = path
            }
        }
        switch open(base: base) {
        case .success(let tree): return .success(.on(tree))
        case .failure(let error):
            if case .auto = setting { return .success(.off(reason: error.message)) }
            return .failure(CgroupSetupError("--cgroup \(base): \(error.message)"))
        }
    }

    /// The directory of this process's cgroup2 cgroup, from
    /// `/proc/self/mountinfo` (where cgroup2 is mounted: `/sys/fs/cgroup` on
    /// a unified host, `/sys/fs/cgroup/unified` on a hybrid one) and the `0::`
    /// line of `/proc/self/cgroup`. A process already in a `supervisor/` leaf
    /// (started again inside its own subtree) takes the leaf's parent.
    static func ownCgroup() -> Result<String, CgroupSetupError> {
        let mounts = cgroup2Mounts()
        guard !mounts.isEmpty else { return .failure(CgroupSetupError("no cgroup2 mount")) }
        guard let text = ProcText.read("/proc/self/cgroup"),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else {
            return .failure(CgroupSetupError("no cgroup2 line in /proc/self/cgroup"))
        }
        var own = String(line.dropFirst(3))
        // The mount that shows our cgroup: its root is `/` or a whole-component prefix of it.
        guard let mount = mounts.first(where: { $0.root == "/" || own == $0.root || own.hasPrefix($0.root + "/") }) else {
            return .failure(CgroupSetupError("no cgroup2 mount shows this process's cgroup \(own)"))
        }
        if mount.root != "/" { own = own == mount.root ? "/" : String(own.dropFirst(mount.root.count)) }
        if own.hasSuffix("/supervisor") { own = String(own.dropLast("/supervisor".count)) }
        guard own != "/", !own.isEmpty else {
            return .failure(CgroupSetupError("in the root cgroup; use --cgroup PATH"))
        }
        return .success(mount.point + own)
    }

    /// Where the cgroup2 file system is mounted, if it is.
    public static var cgroup2MountPoint: String? { cgroup2Mounts().first?.point }

    /// The cgroup2 mounts: each mount point and the cgroup it shows as its root.
    static func cgroup2Mounts() -> [(point: String, root: String)] {
        guard let text = ProcText.read("/proc/self/mountinfo") else { return [] }
        var mounts: [(point: String, root: String)] = []
        for line in text.split(separator: "\n") {
            // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields[dash + 1] == "cgroup2",
                  fields.count > 4 else { continue }
            mounts.append((unescape(String(fields[4])), unescape(String(fields[3]))))
        }
        return mounts
    }

    /// Whether two paths name the same directory (device and inode).
    static func sameDirectory(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    /// mountinfo writes space, tab, newline and backslash as `\040`-style octal.
    private static func unescape(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3, let code = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(code)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `path` is a directory of a cgroup2 file system.
    static func isCgroup2(_ path: String) -> Bool {
        clinux_is_cgroup2(path) == 1
    }

    /// Opens BASE, makes `supervisor/` and moves this process into it, then
    /// enables every controller BASE has for its children.
    static func open(base: String) -> Result<CgroupTree, CgroupSetupError> {
        guard case .success(let fd) = SystemCall.call({ Glibc.open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }) else {
            return .failure(CgroupSetupError("cannot open \(base): \(Errno.current)"))
        }
        let available = Set(ProcText.read(base + "/cgroup.controllers")?.split(separator: " ")
            .compactMap { CgroupController(rawValue: String($0).trimmingSuffixNewline) } ?? [])
        let probe = Cgroup(path: base, fd: fd, controllers: [])
        let supervisor: Cgroup
        do {
            supervisor = try probe.makeChild("supervisor")
        } catch {
            return .failure(CgroupSetupError("not writable: \(error)"))
        }
        // One daemon per subtree: at start every `job-*` in it is taken for
        // a crashed run's and stopped, so a second daemon must not move in.
        if let other = supervisor.processes().first(where: { $0 != getpid() }) {
            return .failure(CgroupSetupError("in use by another process (pid \(other) in \(supervisor.path)): one gatherd per cgroup subtree"))
        }
        // Every thread of the process moves with it.
        if let e = supervisor.write(String(getpid()), to: "cgroup.procs") {
            return .failure(CgroupSetupError("not writable: cannot move gatherd into \(supervisor.path): \(e)"))
        }
        guard faccessat(supervisor.fd, "cgroup.kill", F_OK, 0) == 0 else {
            return .failure(CgroupSetupError("the kernel has no cgroup.kill (Linux 5.14 or later)"))
        }
        // BASE holds no process now: its controllers can be enabled for the jobs.
        var enabled = Set<CgroupController>()
        for controller in available.sorted() where probe.write("+" + controller.rawValue, to: "cgroup.subtree_control") == nil {
            enabled.insert(controller)
        }
        // The same descriptor, now with the controllers the job cgroups get.
        guard case .success(let rootFD) = SystemCall.call({ fcntl(fd, F_DUPFD_CLOEXEC, 0) }) else {
            return .failure(CgroupSetupError("cannot open \(base): \(Errno.current)"))
        }
        return .success(CgroupTree(root: Cgroup(path: base, fd: rootFD, controllers: enabled)))
    }
}

/// Why gatherd cannot use the cgroup it was given.
public struct CgroupSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Small text files of `/proc` and cgroupfs: their size is 0 to `stat`, so
/// they are read until end of file.
enum ProcText {
    static func read(_ path: String, limit: Int = 1 << 20) -> String? {
        guard case .success(let fd) = SystemCall.call({ open(path, O_RDONLY | O_CLOEXEC) }) else { return nil }
        defer { SystemCall.close(fd) }
        guard case .success(let bytes) = SystemCall.readAll(fd, limit: limit) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
