/// The limits a job file may set on a job or on one task (SPEC §4
/// `memory_max`, `cpu_max`, `tasks_max`), written to its cgroup's
/// `memory.max`, `cpu.max` and `pids.max` (SPEC §11).
public struct ResourceLimits: Sendable, Hashable {
    /// Bytes (`memory.max`).
    public var memoryMax: UInt64?
    /// Percent of one CPU (`"150%"` is 150): `cpu.max` `150000 100000`.
    public var cpuMax: Int?
    /// Processes and threads at once (`pids.max`).
    public var tasksMax: Int?

    public init(memoryMax: UInt64? = nil, cpuMax: Int? = nil, tasksMax: Int? = nil) {
        self.memoryMax = memoryMax
        self.cpuMax = cpuMax
        self.tasksMax = tasksMax
    }

    /// No limit is set.
    public var isEmpty: Bool { memoryMax == nil && cpuMax == nil && tasksMax == nil }

    /// The controllers these limits need, with the job-file key of each.
    public var needs: [(key: String, controller: CgroupController)] {
        var needs: [(key: String, controller: CgroupController)] = []
        if memoryMax != nil { needs.append(("memory_max", .memory)) }
        if cpuMax != nil { needs.append(("cpu_max", .cpu)) }
        if tasksMax != nil { needs.append(("tasks_max", .pids)) }
        return needs
    }

    /// The period `cpu.max` is written with (100 ms, the kernel's default).
    public static let cpuPeriodMicroseconds = 100_000

    /// The cgroup files and their contents, in the order they are written.
    public var files: [(name: String, value: String)] {
        var files: [(name: String, value: String)] = []
        if let memoryMax { files.append(("memory.max", String(memoryMax))) }
        if let cpuMax { files.append(("cpu.max", "\(cpuMax * Self.cpuPeriodMicroseconds / 100) \(Self.cpuPeriodMicroseconds)")) }
        if let tasksMax { files.append(("pids.max", String(tasksMax))) }
        return files
    }

    /// Files written only where the kernel has them: `memory.swap.max` 0 with
    /// a `memory_max` (swap accounting is a boot option), so the limit holds
    /// for memory and swap together.
    public var filesWhereTheyExist: [(name: String, value: String)] {
        memoryMax == nil ? [] : [("memory.swap.max", "0")]
    }

    /// The largest size, written `"512M"`, that `parseSize` reads.
    public static let maxSize: UInt64 = 1 << 62

    /// A size as the job file writes it: digits with an optional binary unit
    /// `K`, `M`, `G` or `T` (`"512M"` is 512 × 2²⁰ bytes); nil when it is not
    /// one or is 0.
    public static func parseSize(_ text: String) -> UInt64? {
        var digits = Substring(text)
        var unit: UInt64 = 1
        if let last = digits.last, let shift = Self.unitShifts[last] {
            unit = 1 << shift
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.count <= 19,
              let value = UInt64(digits), value > 0 else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: unit)
        guard !overflow, bytes <= maxSize else { return nil }
        return bytes
    }

    /// A size in the largest unit that divides it exactly: `536870912` → `512M`.
    public static func sizeText(_ bytes: UInt64) -> String {
        for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] where bytes >= 1 << shift {
            if bytes % (1 << shift) == 0 { return "\(bytes >> shift)\(unit)" }
        }
        return String(bytes)
    }

    private static let unitShifts: [Character: UInt64] = ["K": 10, "M": 20, "G": 30, "T": 40]
}

/// A cgroup v2 controller gatherd can limit with.
public enum CgroupController: String, Sendable, Hashable, CaseIterable, Comparable {
    case memory
    case cpu
    case pids

    public static func < (lhs: CgroupController, rhs: CgroupController) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// What a cgroup used, read when it is empty (SPEC §6): nil where the host
/// does not report it (no memory or pids controller).
public struct CgroupUsage: Sendable, Hashable {
    /// `cpu.stat` `usage_usec`: CPU time of everything that ran in it.
    public var cpuUsec: UInt64?
    /// `memory.peak`, bytes.
    public var memoryPeak: UInt64?
    /// `pids.peak`.
    public var tasksPeak: UInt64?

    public init(cpuUsec: UInt64? = nil, memoryPeak: UInt64? = nil, tasksPeak: UInt64? = nil) {
        self.cpuUsec = cpuUsec
        self.memoryPeak = memoryPeak
        self.tasksPeak = tasksPeak
    }

    /// Two attempts of one task in one: CPU times add up, peaks take the larger.
    public func adding(_ other: CgroupUsage) -> CgroupUsage {
        func sum(_ a: UInt64?, _ b: UInt64?) -> UInt64? { a.map { $0 + (b ?? 0) } ?? b }
        func peak(_ a: UInt64?, _ b: UInt64?) -> UInt64? { a.map { max($0, b ?? 0) } ?? b }
        return CgroupUsage(
            cpuUsec: sum(cpuUsec, other.cpuUsec), memoryPeak: peak(memoryPeak, other.memoryPeak),
            tasksPeak: peak(tasksPeak, other.tasksPeak))
    }
}
