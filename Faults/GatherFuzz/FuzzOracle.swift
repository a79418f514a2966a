import GatherSpool

/// The validator's contract, checked on each input: what must hold of any
/// answer, whatever the bytes (no crash is checked by running at all).
public enum FuzzOracle {
    /// The context the daemon gives a file owned by root dropped into the
    /// spool of a daemon running as root, with the same passwd look-ups
    /// (`SpoolDirectory.examine`).
    public static func daemonContext() -> JobFileContext {
        JobFileContext(ownerUID: 0, daemonUID: 0,
                       lookupName: { UserAccount.cached(name: $0) }, lookupUID: { UserAccount.cached(uid: $0) })
    }

    /// The `error` of the record the daemon writes for these bytes dropped
    /// as a root-owned regular file of mode 0644 under a valid name; `nil`
    /// when it runs. Larger than 1 MiB is refused from `fstat`, before the
    /// validator (`SpoolDirectory.unsafeFile`), in the daemon's words.
    public static func daemonError(_ bytes: [UInt8], _ validation: JobFileValidation) -> String? {
        if bytes.count > JobFileValidator.maxFileSize { return "the file is larger than 1 MiB" }
        return validation.problems.isEmpty ? nil : validation.errorLine
    }

    /// Every way the answer for `bytes` breaks the contract; empty when it holds.
    /// - Parameter expectation: what the mutation is known to break, if anything.
    public static func violations(_ v: JobFileValidation, bytes: [UInt8], expectation: FuzzExpectation?) -> [String] {
        var out: [String] = []
        if (v.job == nil) == v.problems.isEmpty {
            out.append(v.job == nil ? "no job and no problem" : "a job and \(v.problems.count) problems")
        }
        let tooLarge = bytes.count > JobFileValidator.maxFileSize
        let parsed = tooLarge ? nil : StrictJSONReader.read(bytes).value
        var syntax = 0
        for p in v.problems {
            if p.message.isEmpty { out.append("empty message at \(p.path.debugDescription)") }
            if p.path.isEmpty {
                if let (line, column) = lineAndColumn(p.message) {
                    syntax += 1
                    if !isPlace(line: line, column: column, in: bytes) { out.append("no line \(line), column \(column) in the file: \(p.message)") }
                } else if !(p.message == "larger than 1 MiB" || p.message.hasPrefix("must be a JSON object, found ")
                            || p.message.hasPrefix("the file owner (uid ") || p.message.hasPrefix("owned by uid ")) {
                    out.append("a whole-file problem that is none of the known ones: \(p.message)")
                }
                continue
            }
            guard let parsed else {
                // Before a syntax error, only duplicate keys can be told.
                if !p.message.hasPrefix("duplicate key (line ") { out.append("a problem with a path in a file that does not parse: \(p)") }
                continue
            }
            var found: [Resolved] = []
            resolve(p.path[...], in: parsed, scope: .job, top: true, elements: nil, message: p.message, into: &found)
            // A duplicate key inside the value of a duplicate key (which the
            // reader reads, then drops) is not in the parsed file: its path
            // starts with a key of the file, its line and column are in it.
            if found.isEmpty, p.message.hasPrefix("duplicate key (line "), case .object(let members) = parsed,
               members.contains(where: { p.path == $0.key || p.path.hasPrefix($0.key + ".") || p.path.hasPrefix($0.key + "[") }),
               let (line, column) = lineAndColumn(String(p.message.dropFirst("duplicate key (".count).dropLast()) + ": -"),
               isPlace(line: line, column: column, in: bytes) {
                continue
            }
            if found.isEmpty { out.append("the path is not a key path of the file: \(p)") }
            if let wrong = contentMismatch(p, found, parsed) { out.append(wrong) }
        }
        if tooLarge, v.problems.map(\.description) != ["larger than 1 MiB"] { out.append("larger than 1 MiB, but: \(v.errorLine)") }
        if !tooLarge, (syntax > 0) != (parsed == nil) { out.append("\(syntax) syntax problems, but the file \(parsed == nil ? "does not parse" : "parses")") }
        if syntax > 1 { out.append("\(syntax) syntax problems in one file") }
        if let job = v.job { out += jobViolations(job, parsed) }
        if let expectation {
            if expectation.stillValid {
                if v.job == nil { out.append("expected \(expectation), got: \(v.errorLine)") }
            } else if v.job != nil {
                out.append("expected \(expectation), but the file is valid")
            } else if !v.problems.contains(where: { expectation.isMet(by: $0.path, message: $0.message) }) {
                out.append("expected \(expectation), got: \(v.errorLine)")
            }
        }
        return out
    }

    /// `line L, column C: …` → (L, C).
    static func lineAndColumn(_ message: String) -> (Int, Int)? {
        guard message.hasPrefix("line ") else { return nil }
        let parts = message.dropFirst(5).split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[1].hasPrefix(" "), parts[1].count > 1 else { return nil }
        let lc = parts[0].split(separator: ",")
        guard lc.count == 2, lc[1].hasPrefix(" column "), let line = Int(lc[0]), let column = Int(lc[1].dropFirst(8)) else { return nil }
        return (line, column)
    }

    /// Whether line `line`, column `column` (characters counted from 1; one past the end allowed) is in the file.
    static func isPlace(line: Int, column: Int, in bytes: [UInt8]) -> Bool {
        guard line >= 1, column >= 1 else { return false }
        var l = 1, length = 0
        for b in bytes {
            if l == line, b == 0x0A { break }
            if b == 0x0A { l += 1; continue }
            if l == line, b & 0xC0 != 0x80 { length += 1 }
        }
        return l == line && column <= length + 1
    }

    /// What a key path leads to.
    enum Resolved {
        case value(JSONValue)
        /// A required key the object lacks.
        case missing
    }

    static let jobKeys = Set(JobKeyTable.keys(in: .job).map(\.name))
    static let taskKeys = Set(JobKeyTable.keys(in: .task).map(\.name))
    static func keys(_ scope: JobKey.Scope) -> Set<String> { scope == .job ? jobKeys : taskKeys }

    /// Every way `path` leads through `value` (keys may hold `.` and `[`).
    /// In the top object and the task objects a key outside the table may
    /// be named only by an `unknown key` or a `duplicate key` problem.
    static func resolve(_ path: Substring, in value: JSONValue, scope: JobKey.Scope?, top: Bool, elements: JobKey.Scope?,
                        message: String, into out: inout [Resolved]) {
        if path.isEmpty, !top { out.append(.value(value)); return }
        switch value {
        case .array(let items):
            guard path.first == "[", let close = path.firstIndex(of: "]"), let n = Int(path[path.index(after: path.startIndex)..<close]),
                  items.indices.contains(n), String(n) == path[path.index(after: path.startIndex)..<close] else { return }
            resolve(path[path.index(after: close)...], in: items[n], scope: elements, top: false, elements: nil, message: message, into: &out)
        case .object(let members):
            var rest = path
            if !top {
                guard rest.first == "." else { return }
                rest = rest.dropFirst()
            }
            for (key, child) in members {
                // An empty key is named `""`.
                let shown = key.isEmpty ? "\"\"" : JobFileProblem.escapingControls(key)
                guard rest == shown || rest.hasPrefix(shown + ".") || rest.hasPrefix(shown + "[") else { continue }
                let after = rest.dropFirst(shown.count)
                if let scope, !keys(scope).contains(key) {
                    let duplicate = message.hasPrefix("duplicate key")
                    guard duplicate || (after.isEmpty && message == "unknown key") else { continue }
                    resolve(after, in: child, scope: nil, top: false, elements: nil, message: message, into: &out)
                    continue
                }
                let childElements: JobKey.Scope? = scope == .job && key == "tasks" ? .task : nil
                resolve(after, in: child, scope: nil, top: false, elements: childElements, message: message, into: &out)
            }
            if message == "required", let scope, JobKeyTable.keys(in: scope).contains(where: { $0.name == rest && $0.isRequired }),
               !members.contains(where: { $0.key == rest }) {
                out.append(.missing)
            }
        default:
            return
        }
    }

    /// A problem whose message names what is at its path, checked against it.
    static func contentMismatch(_ p: JobFileProblem, _ found: [Resolved], _ doc: JSONValue) -> String? {
        // As problems write them: control characters escaped.
        let strings: [String] = found.compactMap { if case .value(.string(let s)) = $0 { JobFileProblem.escapingControls(s) } else { nil } }
        func taskName(_ path: String) -> String? {
            guard path.hasPrefix("tasks["), let close = path.firstIndex(of: "]"),
                  let i = Int(path[path.index(path.startIndex, offsetBy: 6)..<close]),
                  case .array(let tasks)? = doc["tasks"], tasks.indices.contains(i), case .string(let s)? = tasks[i]["name"] else { return nil }
            return JobFileProblem.escapingControls(s)
        }
        if p.message.hasPrefix("unknown task \"") {
            if !strings.contains(where: { p.message == "unknown task \"\($0)\"" }) { return "the name in the message is not the one at its path: \(p)" }
        } else if p.message.hasPrefix("duplicate task name \"") {
            if !strings.contains(where: { p.message == "duplicate task name \"\($0)\"" }) { return "the name in the message is not the one at its path: \(p)" }
        } else if p.message == "a task cannot wait for itself" {
            guard let own = taskName(p.path), strings.contains(own) else { return "not the task's own name at its path: \(p)" }
        } else if p.message.hasPrefix("dependency cycle: ") {
            let names = p.message.dropFirst(18).components(" -> ")
            guard names.count >= 3, names.first == names.last, let own = taskName(p.path), names.contains(own) else {
                return "a cycle that does not go through its task and back: \(p)"
            }
        } else if p.message == "required" {
            if !found.contains(where: { if case .missing = $0 { true } else { false } }) { return "required, but present: \(p)" }
        }
        return nil
    }

    /// What a valid job must be (SPEC §4), checked on the job the validator made.
    static func jobViolations(_ job: JobFile, _ doc: JSONValue?) -> [String] {
        var out: [String] = []
        func check(_ ok: Bool, _ what: @autoclosure () -> String) { if !ok { out.append("valid, but " + what()) } }
        func duration(_ d: Duration?, _ what: String, positive: Bool = false) {
            guard let d else { return }
            check(d >= .zero, "\(what) is negative")
            check(d == .zero || d >= .milliseconds(1), "\(what) is \(d), between 0 and 1 ms")
            if positive { check(d > .zero, "\(what) is 0") }
        }
        func env(_ env: [(key: String, value: String)], _ what: String) {
            for (k, v) in env {
                check(isEnvName(k) && !k.hasPrefix("GATHER_"), "\(what) name \(k.debugDescription)")
                check(!v.utf8.contains(0), "\(what) value with NUL")
            }
        }
        check((1...10_000).contains(job.tasks.count), "\(job.tasks.count) tasks")
        if case .array(let items)? = doc?["tasks"] { check(items.count == job.tasks.count, "\(job.tasks.count) tasks of \(items.count)") }
        if let name = job.name {
            check(!name.isEmpty && name.utf8.count <= 200 && !hasControl(name), "job name \(name.debugDescription)")
        }
        if let user = job.user { check(!user.isEmpty && !hasControl(user), "user \(user.debugDescription)") }
        if let cwd = job.cwd { check(cwd.hasPrefix("/") && !cwd.utf8.contains(0), "cwd \(cwd.debugDescription)") }
        if let m = job.maxParallel { check(m >= 1, "max_parallel \(m)") }
        duration(job.timeout, "timeout", positive: true)
        duration(job.killGrace, "kill_grace")
        if let g = job.killGrace { check(g <= .seconds(300), "kill_grace \(g)") }
        env(job.env, "env")
        var names: [String: Int] = [:]
        for (i, task) in job.tasks.enumerated() {
            let at = "tasks[\(i)]"
            check(isTaskName(task.name), "\(at).name \(task.name.debugDescription)")
            check(names.updateValue(i, forKey: task.name) == nil, "\(at).name \(task.name) twice")
            check(!task.command.isEmpty && !task.command[0].isEmpty && task.command.allSatisfy { !$0.utf8.contains(0) },
                  "\(at).command \(task.command)")
            check((0...100).contains(task.retries), "\(at).retries \(task.retries)")
            check(!task.successExitCodes.isEmpty && task.successExitCodes.allSatisfy { (0...255).contains($0) },
                  "\(at).success_exit_codes \(task.successExitCodes)")
            duration(task.timeout, "\(at).timeout", positive: true)
            duration(task.retryDelay, "\(at).retry_delay")
            duration(task.retryDelayMax, "\(at).retry_delay_max")
            if let codes = task.retryExitCodes {
                check(!codes.isEmpty && codes.allSatisfy { (0...255).contains($0) }, "\(at).retry_exit_codes \(codes)")
            }
            env(task.env, "\(at).env")
            if let cwd = task.cwd { check(cwd.hasPrefix("/") && !cwd.utf8.contains(0), "\(at).cwd \(cwd.debugDescription)") }
            for limits in [job.limits, task.limits] {
                if let m = limits.memoryMax { check(m >= 1, "memory_max \(m)") }
                if let c = limits.cpuMax { check((1...100_000).contains(c), "cpu_max \(c)") }
                if let t = limits.tasksMax { check((1...4_194_304).contains(t), "tasks_max \(t)") }
            }
        }
        // Every `after` names another task, and the graph has no cycle (Kahn).
        var waiting = job.tasks.map { Set($0.after).count }
        var dependents: [Int: [Int]] = [:]
        for (i, task) in job.tasks.enumerated() {
            for dep in Set(task.after) {
                guard let j = names[dep] else { check(false, "tasks[\(i)].after names no task: \(dep.debugDescription)"); continue }
                check(j != i, "tasks[\(i)] waits for itself")
                check(!job.tasks[j].isFinally, "tasks[\(i)] waits for the finally task \(dep)")
                dependents[j, default: []].append(i)
            }
        }
        var ready = waiting.indices.filter { waiting[$0] == 0 }
        var ordered = 0
        while let j = ready.popLast() {
            ordered += 1
            for i in dependents[j] ?? [] {
                waiting[i] -= 1
                if waiting[i] == 0 { ready.append(i) }
            }
        }
        if out.isEmpty { check(ordered == job.tasks.count, "the after graph has a cycle") }
        return out
    }

    static func isTaskName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        func alnum(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) }
        return (1...64).contains(b.count) && alnum(b[0]) && b.allSatisfy { alnum($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    static func isEnvName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        func alpha(_ c: UInt8) -> Bool { (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == 0x5F }
        return !b.isEmpty && alpha(b[0]) && b.allSatisfy { alpha($0) || (0x30...0x39).contains($0) }
    }

    static func hasControl(_ s: String) -> Bool { s.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) } }
}

extension Substring {
    /// Split on a separator string.
    func components(_ separator: String) -> [String] {
        var out: [String] = []
        var rest = self
        while let r = rest.firstRange(of: separator) {
            out.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        out.append(String(rest))
        return out
    }
}
