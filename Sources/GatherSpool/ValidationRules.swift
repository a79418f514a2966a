import Gather
import GatherSystem

/// The text rules of SPEC §3 and §4 (names, IDs, environment keys).
enum TextRules {
    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`
    static func isTaskName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard (1...64).contains(b.count), isAlnum(b[0]) else { return false }
        return b.dropFirst().allSatisfy { isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// `^[A-Za-z_][A-Za-z0-9_]*$`
    static func isEnvKey(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, isAlpha(first) || first == UInt8(ascii: "_") else { return false }
        return b.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") }
    }

    static func isAlnum(_ c: UInt8) -> Bool { isAlpha(c) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) }
    static func isAlpha(_ c: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
    }

    static func hasControl(_ s: String) -> Bool {
        s.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
    }
}

/// Key paths as problems name them (`tasks[2].command`).
enum JobKeyPath {
    /// The path of member `key` of the object at `base` (empty for the top).
    /// An empty key is written `""`: the empty path is a whole-file
    /// problem's, and `tasks[0].` names nothing.
    static func member(_ base: String, _ key: String) -> String {
        let shown = key.isEmpty ? "\"\"" : key
        return base.isEmpty ? shown : "\(base).\(shown)"
    }
}

/// The problems of one file, and the typed readers that add to them.
struct Problems {
    var list: [JobFileProblem] = []

    mutating func add(_ path: String, _ message: String) {
        list.append(JobFileProblem(path: path, message: message))
    }

    /// A string, else a problem.
    mutating func string(_ v: JSONValue, _ path: String) -> String? {
        guard case .string(let s) = v else { add(path, "must be a string, found \(v.typeName)"); return nil }
        if s.utf8.contains(0) { add(path, "must not contain NUL"); return nil }
        return s
    }

    /// A non-empty string within `maxBytes`, without control characters when asked.
    mutating func text(_ v: JSONValue, _ path: String, maxBytes: Int, noControl: Bool) -> String? {
        guard let s = string(v, path) else { return nil }
        if s.isEmpty { add(path, "must not be empty"); return nil }
        if noControl, TextRules.hasControl(s) { add(path, "must not contain control characters"); return nil }
        if s.utf8.count > maxBytes { add(path, "must be at most \(maxBytes) bytes"); return nil }
        return s
    }

    /// An integer in `range`; `4.0`, `1e2` and strings are problems.
    mutating func integer(_ v: JSONValue, _ path: String, _ range: ClosedRange<Int64>, _ what: String) -> Int64? {
        switch v {
        case .integer(let i) where range.contains(i): return i
        case .integer: add(path, "must be \(what)")
        case .number: add(path, "must be \(what), not a fraction or exponent")
        default: add(path, "must be \(what), found \(v.typeName)")
        }
        return nil
    }

    /// A duration: a string such as `"1h30m"` or a number of seconds (SPEC §4),
    /// 0 or at least 1 ms.
    mutating func duration(_ v: JSONValue, _ path: String, positive: Bool = false) -> Duration? {
        var d: Duration?
        // Written as 0: what is not, but reads as less than 1 ms (or rounds to
        // 0 ns, as 5e-324 does), lies between 0 and 1 ms.
        var writtenZero = false
        switch v {
        case .string(let s):
            d = DurationText.parse(s)
            writtenZero = !s.contains { ("1"..."9").contains($0) }
        case .integer(let i):
            d = DurationText.fromSeconds(Double(i))
            writtenZero = i == 0
        case .number(let x):
            d = DurationText.fromSeconds(x)
            writtenZero = x == 0
        default: break
        }
        guard let d else {
            add(path, "must be a duration such as \"30s\", \"1h30m\" or a number of seconds")
            return nil
        }
        if !writtenZero, d < .milliseconds(1) {
            add(path, positive ? "must be at least 1ms" : "must be 0 or at least 1ms")
            return nil
        }
        if positive, d <= .zero { add(path, "must be more than 0"); return nil }
        return d
    }

    /// A non-empty argv of strings without NUL, whose first is not empty.
    mutating func command(_ v: JSONValue, _ path: String) -> [String]? {
        guard case .array(let args) = v, !args.isEmpty else { add(path, "must be a non-empty array of strings"); return nil }
        let strings = args.compactMap { if case .string(let s) = $0 { s } else { nil } }
        guard strings.count == args.count else { add(path, "must be a non-empty array of strings"); return nil }
        if let bad = strings.firstIndex(where: { $0.utf8.contains(0) }) { add("\(path)[\(bad)]", "must not contain NUL"); return nil }
        if strings[0].isEmpty { add("\(path)[0]", "must not be empty"); return nil }
        return strings
    }

    /// A non-empty array of exit statuses; the valid ones of a partly wrong
    /// array are returned too, each wrong one being a problem of its own.
    mutating func exitCodes(_ v: JSONValue, _ path: String) -> [Int32]? {
        guard case .array(let codes) = v, !codes.isEmpty else {
            add(path, "must be a non-empty array of integers from 0 to 255")
            return nil
        }
        return codes.enumerated().compactMap { k, c in
            integer(c, "\(path)[\(k)]", 0...255, "an integer from 0 to 255").map(Int32.init)
        }
    }

    /// An absolute path without NUL.
    mutating func path(_ v: JSONValue, _ path: String) -> String? {
        guard let s = string(v, path) else { return nil }
        guard s.hasPrefix("/") else { add(path, "must be an absolute path"); return nil }
        return s
    }

    /// An object of strings with keys `^[A-Za-z_][A-Za-z0-9_]*$`, none `GATHER_*`.
    mutating func env(_ v: JSONValue, _ path: String) -> [(key: String, value: String)] {
        guard case .object(let members) = v else { add(path, "must be an object of strings, found \(v.typeName)"); return [] }
        var out: [(key: String, value: String)] = []
        for (key, value) in members {
            let keyPath = JobKeyPath.member(path, key)
            if !TextRules.isEnvKey(key) {
                add(keyPath, "environment name must match ^[A-Za-z_][A-Za-z0-9_]*$")
                continue
            }
            if key.hasPrefix("GATHER_") { add(keyPath, "GATHER_* names are set by gatherd"); continue }
            if let s = string(value, keyPath) { out.append((key, s)) }
        }
        return out
    }
}

extension Problems {
    /// The largest `cpu_max`, in percent of one CPU (a thousand CPUs).
    static let maxCPUPercent = 100_000
    /// The largest `tasks_max` (the kernel's `pid_max` limit, 2²²).
    static let maxTasks: Int64 = 4_194_304

    /// A size (SPEC §4 `memory_max`): a JSON integer of bytes, or a string of
    /// digits with an optional binary unit (`"512M"`), from 1 byte to
    /// ``ResourceLimits/maxSize``.
    mutating func size(_ v: JSONValue, _ path: String) -> UInt64? {
        let what = #"a size like "512M" or a number of bytes"#
        let maxText = ResourceLimits.sizeText(ResourceLimits.maxSize)
        switch v {
        case .integer(let i):
            if i < 1 { add(path, "must be at least 1 byte"); return nil }
            if UInt64(i) > ResourceLimits.maxSize { add(path, "must be at most \(maxText)"); return nil }
            return UInt64(i)
        case .number:
            add(path, "must be \(what), not a fraction or exponent")
        case .string(let s):
            if let bytes = ResourceLimits.parseSize(s) { return bytes }
            // Digits and a unit that still do not parse are 0 or too large.
            let digits = s.last.map { "KMGT".contains($0) } == true ? s.dropLast() : Substring(s)
            if !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
                add(path, digits.allSatisfy { $0 == "0" } ? "must be at least 1 byte" : "must be at most \(maxText)")
            } else {
                add(path, "must be \(what)")
            }
        default:
            add(path, "must be \(what), found \(v.typeName)")
        }
        return nil
    }

    /// A CPU limit (SPEC §4 `cpu_max`): a string `"N%"`, N an integer from 1
    /// to ``maxCPUPercent`` percent of one CPU (`"150%"` is one and a half CPUs).
    mutating func cpuPercent(_ v: JSONValue, _ path: String) -> Int? {
        let what = #"a percent of one CPU like "150%""#
        guard case .string(let s) = v else { add(path, "must be \(what), found \(v.typeName)"); return nil }
        let digits = s.hasSuffix("%") ? s.dropLast() : ""
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            add(path, "must be \(what)")
            return nil
        }
        // Digits too many for an Int are out of range too.
        guard let percent = Int(digits), (1...Self.maxCPUPercent).contains(percent) else {
            add(path, "must be from 1% to \(Self.maxCPUPercent)%")
            return nil
        }
        return percent
    }
}

extension Problems {
    /// The `slurm` object (SPEC §4, §12): the keys of ``JobKeyTable/slurmKeys``
    /// only, each checked; an unknown key is a problem at its path
    /// (`tasks[1].slurm.cpu_per_task: unknown key`).
    mutating func slurm(_ v: JSONValue, _ path: String) -> JobFile.SlurmOptions {
        var options = JobFile.SlurmOptions()
        guard case .object(let members) = v else { add(path, "must be an object, found \(v.typeName)"); return options }
        for (key, value) in members {
            let keyPath = JobKeyPath.member(path, key)
            switch key {
            case "partition": options.partition = slurmWord(value, keyPath)
            case "account": options.account = slurmWord(value, keyPath)
            case "qos": options.qos = slurmWord(value, keyPath)
            case "constraint": options.constraint = slurmWord(value, keyPath)
            case "cpus_per_task":
                options.cpusPerTask = integer(value, keyPath, 1...4_194_304, "an integer from 1 to 4194304").map(Int.init)
            case "mem": options.mem = size(value, keyPath)
            case "time_min": options.timeMin = duration(value, keyPath, positive: true)
            default: add(keyPath, "unknown key")
            }
        }
        return options
    }

    /// A string for an `srun` option: non-empty, at most 256 bytes, no
    /// control characters and no spaces (Slurm names have none).
    private mutating func slurmWord(_ v: JSONValue, _ path: String) -> String? {
        guard let s = text(v, path, maxBytes: 256, noControl: true) else { return nil }
        if s.contains(" ") { add(path, "must not contain spaces"); return nil }
        return s
    }
}
