import GatherSpool

/// One valid job file the mutations start from.
public struct FuzzCorpusFile: Sendable {
    /// What it covers (`job key timeout = "30s"`).
    public let label: String
    public let document: FuzzJSON
}

/// The built-in corpus: valid job files that together hold every key of
/// ``JobKeyTable`` (iterated, so a new row is covered, or reported as lacking
/// a valid value), running only harmless commands.
public enum FuzzCorpus {
    /// The only commands a corpus file runs; a valid sample written for the
    /// daemon runs nothing else.
    public static let harmlessCommands: [[String]] = [["true"], ["false"], ["/bin/true"], ["echo", "fuzz"], ["sh", "-c", "exit 3"]]
    /// The only working directories of a sample.
    public static let harmlessDirectories: Set<String> = ["/", "/tmp"]
    /// Keys the daemon may reject on a host without cgroup controllers: in
    /// the corpus, never in a sample written for the daemon.
    public static let limitKeys: Set<String> = ["memory_max", "cpu_max", "tasks_max"]

    /// Valid values of the keys the fuzzer knows, by scope.
    static let knownValues: [JobKey.Scope: [String: [FuzzJSON]]] = [
        .job: [
            "name": [.string("fuzz"), .string("nightly backup \u{2713}"), .string(String(repeating: "n", count: 200))],
            "max_parallel": [.integer(1), .integer(3)],
            "timeout": [.string("30s"), .string("1h30m"), .string("1.5s"), .integer(60), .number("2.5")],
            "kill_grace": [.string("250ms"), .string("5s"), .string("5m"), .integer(0), .string("0s")],
            "env": [.object([.init("FUZZ_A", .string("1")), .init("FUZZ_B", .string(""))]), .object([])],
            "cwd": [.string("/"), .string("/tmp")],
            "user": [.string("root")],
            "restartable": [.bool(true), .bool(false)],
            "memory_max": [.string("512M"), .integer(1_048_576)],
            "cpu_max": [.string("150%")],
            "tasks_max": [.integer(64)],
            "on_end": [.strings(["true"])],
            "on_failure": [.strings(["true"]), .strings(["echo", "fuzz"])],
            "tasks": [taskList(3), taskList(1), taskList(5, chained: true)],
            "slurm": [.object([.init("partition", .string("batch")), .init("cpus_per_task", .integer(2)),
                               .init("mem", .string("1G")), .init("time_min", .string("5m"))]), .object([])],
        ],
        .task: [
            "name": [.string("a"), .string("A.b_c-9"), .string(String(repeating: "t", count: 64))],
            "command": harmlessCommands.map(FuzzJSON.strings),
            "timeout": [.string("5s"), .integer(10), .string("250ms")],
            "retries": [.integer(0), .integer(2)],
            "retry_delay": [.string("10ms"), .string("0s"), .number("0.05")],
            "retry_delay_max": [.string("20ms"), .string("0s"), .integer(600)],
            "retry_exit_codes": [.array([.integer(75)]), .array([.integer(1), .integer(255)])],
            // False first: the file with every key has tasks waiting for one another.
            "finally": [.bool(false), .bool(true)],
            "success_exit_codes": [.array([.integer(0)]), .array([.integer(0), .integer(3)]), .array([.integer(3)])],
            "env": [.object([.init("FUZZ_T", .string("x"))])],
            "cwd": [.string("/tmp"), .string("/")],
            "after": [.strings(["b"])],
            "memory_max": [.string("64M")],
            "cpu_max": [.string("50%")],
            "tasks_max": [.integer(8)],
            "slurm": [.object([.init("qos", .string("low")), .init("account", .string("ops")),
                               .init("constraint", .string("ssd")), .init("mem", .integer(1_048_576))])],
        ],
    ]

    /// Valid values of `key`: those above, else what its row tells (its
    /// allowed values, or a guess from its type); empty when none is known.
    public static func validValues(for key: JobKey) -> [FuzzJSON] {
        if !key.allowedValues.isEmpty { return key.allowedValues.map { .string($0) } }
        if let known = knownValues[key.scope]?[key.name] { return known }
        let type = key.type
        if type.hasPrefix("bool") { return [.bool(true), .bool(false)] }
        if type.hasPrefix("duration") { return [.string("1s")] }
        if type.hasPrefix("integer") { return [.integer(1)] }
        if type.hasPrefix("absolute path") { return [.string("/tmp")] }
        return []
    }

    /// A task named `name` running harmless command number `command`.
    static func task(_ name: String, command: Int, extra: [FuzzJSON.Member] = []) -> FuzzJSON {
        .object([.init("name", .string(name)), .init("command", .strings(harmlessCommands[command % harmlessCommands.count]))] + extra)
    }

    /// `count` tasks `t0`… with the harmless commands in turn; `chained`:
    /// each waits for the one before.
    static func taskList(_ count: Int, chained: Bool = false) -> FuzzJSON {
        .array((0..<count).map { i in
            task("t\(i)", command: i, extra: chained && i > 0 ? [.init("after", .strings(["t\(i - 1)"]))] : [])
        })
    }

    /// The corpus, and the keys of the table it could not cover (none, or
    /// the fuzzer needs a valid value for a new key).
    public static func build() -> (files: [FuzzCorpusFile], uncovered: [String]) {
        var files: [FuzzCorpusFile] = []
        var uncovered: [String] = []
        let twoTasks = [task("a", command: 0), task("b", command: 3)]
        for key in JobKeyTable.keys {
            let values = validValues(for: key)
            if values.isEmpty { uncovered.append("\(key.scope) key \(key.name)") }
            for (n, value) in values.enumerated() {
                let label = "\(key.scope) key \(key.name) = \(String(decoding: value.bytes(), as: UTF8.self))"
                let doc: FuzzJSON
                switch (key.scope, key.name) {
                case (.job, "tasks"):
                    doc = .object([.init("tasks", value)])
                case (.job, _):
                    doc = .object([.init(key.name, value), .init("tasks", n % 2 == 0 ? .array(twoTasks) : taskList(2))])
                case (.task, "name"):
                    doc = .object([.init("tasks", .array([.object([.init("name", value), .init("command", .strings(["true"]))]), twoTasks[1]]))])
                case (.task, "command"):
                    doc = .object([.init("tasks", .array([.object([.init("name", .string("a")), .init("command", value)]), twoTasks[1]]))])
                case (.task, _):
                    doc = .object([.init("tasks", .array([task("a", command: n + 1, extra: [.init(key.name, value)]), twoTasks[1]]))])
                }
                files.append(FuzzCorpusFile(label: label, document: doc))
            }
        }
        // Files with every key at once: without the limits (what a sample
        // may hold) and with them.
        for withLimits in [false, true] {
            func members(_ scope: JobKey.Scope, skip: Set<String>) -> [FuzzJSON.Member] {
                JobKeyTable.keys(in: scope).compactMap { key in
                    guard !skip.contains(key.name), withLimits || !limitKeys.contains(key.name),
                          let value = validValues(for: key).first else { return nil }
                    return .init(key.name, value)
                }
            }
            let full = members(.task, skip: ["name", "command", "after"])
            let tasks: [FuzzJSON] = (0..<4).map { i in
                task("k\(i)", command: i, extra: full + (i > 0 ? [.init("after", .strings(["k\(i - 1)"]))] : []))
            }
            let doc = FuzzJSON.object(members(.job, skip: ["tasks"]) + [.init("tasks", .array(tasks))])
            files.append(FuzzCorpusFile(label: withLimits ? "every key, limits included" : "every key but the limits", document: doc))
        }
        // A fan-out and fan-in graph under each policy.
        let policies = JobKeyTable.keys.first { $0.scope == .job && $0.name == "policy" }?.allowedValues ?? []
        for policy in policies {
            let tasks: [FuzzJSON] = [
                task("start", command: 0),
                task("left", command: 3, extra: [.init("after", .strings(["start"]))]),
                task("right", command: 4, extra: [.init("after", .strings(["start"])), .init("success_exit_codes", .array([.integer(3)]))]),
                task("end", command: 2, extra: [.init("after", .strings(["left", "right"]))]),
                task("flaky", command: 1, extra: [.init("retries", .integer(1)), .init("retry_delay", .string("10ms"))]),
                task("only-75", command: 1, extra: [
                    .init("retries", .integer(2)), .init("retry_delay", .string("10ms")), .init("retry_delay_max", .string("15ms")),
                    .init("retry_exit_codes", .array([.integer(75)])),
                ]),
                task("cleanup", command: 0, extra: [.init("finally", .bool(true)), .init("after", .strings(["start"]))]),
            ]
            files.append(FuzzCorpusFile(label: "graph under \(policy)", document: .object([
                .init("name", .string("graph \(policy)")), .init("policy", .string(policy)), .init("tasks", .array(tasks)),
            ])))
        }
        return (files, uncovered)
    }

    /// Whether a valid job runs only what a sample for the daemon may run:
    /// harmless commands, root or the owner, `/` or `/tmp`, no limits, a
    /// few tasks, and retries that wait a few seconds at most. Never
    /// `executor: slurm`: whether the daemon takes it depends on the host.
    public static func isHarmless(_ job: JobFile) -> Bool {
        guard job.user == nil || job.user == "root", job.cwd.map(harmlessDirectories.contains) ?? true, !job.usesSlurm,
              job.limits.isEmpty, (1...50).contains(job.tasks.count),
              [job.onEnd, job.onFailure].allSatisfy({ $0 == nil || harmlessCommands.contains($0!) }),
              job.env.allSatisfy({ $0.key.hasPrefix("FUZZ_") }) else { return false }
        var waits = Duration.zero
        for task in job.tasks {
            guard harmlessCommands.contains(task.command), task.limits.isEmpty,
                  task.cwd.map(harmlessDirectories.contains) ?? true,
                  task.env.allSatisfy({ $0.key.hasPrefix("FUZZ_") }) else { return false }
            var delay = task.retryDelay
            for _ in 0..<task.retries {
                // Capped before doubling: a huge delay doubled up to 100 times
                // would overflow Duration (the daemon's own doubling stops at the cap).
                delay = min(delay, task.retryDelayMax)
                waits += delay
                if waits > .seconds(3) { return false }
                delay = delay * 2
            }
        }
        return waits <= .seconds(3)
    }
}
