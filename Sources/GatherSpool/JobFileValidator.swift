import Gather

/// What the validator needs to know besides the file: who owns it and who
/// the daemon is, for the `user` rules of SPEC §8. `gatherctl validate`
/// passes the caller's uid as the owner.
public struct JobFileContext: Sendable {
    /// The file owner (`fstat`), who submitted the job.
    public var ownerUID: UInt32
    /// The daemon's uid; 0 means tasks run as the owner (or the root-named `user`).
    public var daemonUID: UInt32
    /// passwd look-ups; tests may replace them.
    public var lookupName: @Sendable (String) -> UserAccount?
    public var lookupUID: @Sendable (UInt32) -> UserAccount?

    public init(ownerUID: UInt32, daemonUID: UInt32,
                lookupName: @escaping @Sendable (String) -> UserAccount? = { UserAccount.lookup(name: $0) },
                lookupUID: @escaping @Sendable (UInt32) -> UserAccount? = { UserAccount.lookup(uid: $0) }) {
        self.ownerUID = ownerUID
        self.daemonUID = daemonUID
        self.lookupName = lookupName
        self.lookupUID = lookupUID
    }
}

/// The outcome of validating one job file.
public struct JobFileValidation: Sendable {
    /// The job, when there are no problems.
    public let job: JobFile?
    /// Every problem of the file, in file order (duplicate keys and the owner first).
    public let problems: [JobFileProblem]
    /// The file owner's account, if it has a passwd entry.
    public let owner: UserAccount?
    /// The account the tasks run as (SPEC §8), when it could be decided.
    public let runAs: UserAccount?
    /// `problems` as one line, `; `-separated: the `error` of a rejected record.
    public var errorLine: String { problems.map(\.description).joined(separator: "; ") }
}

/// The strict job-file validator of SPEC §4 and §8, shared by `gatherd` and
/// `gatherctl validate`/`submit`. It reports every problem of a file, each
/// with its key path; malformed JSON gives line and column.
public enum JobFileValidator {
    /// The largest job file (SPEC §4).
    public static let maxFileSize = 1 << 20

    /// Validates the bytes of a job file.
    /// - Parameters:
    ///   - bytes: the file as read (at most ``maxFileSize``).
    ///   - context: the owner and the daemon's identity.
    public static func validate(_ bytes: [UInt8], context: JobFileContext) -> JobFileValidation {
        var p = Problems()
        let owner = context.lookupUID(context.ownerUID)
        guard bytes.count <= maxFileSize else {
            p.add("", "larger than 1 MiB")
            return JobFileValidation(job: nil, problems: p.list, owner: owner, runAs: nil)
        }
        let read = StrictJSONReader.read(bytes)
        for problem in read.problems {
            p.list.append(JobFileProblem(path: problem.path, message: problem.path.isEmpty ? problem.description : "\(problem.message) (line \(problem.line), column \(problem.column))"))
        }
        let runAs = checkIdentity(context: context, owner: owner, user: read.value?["user"], problems: &p)
        guard let root = read.value else {
            return JobFileValidation(job: nil, problems: p.list, owner: owner, runAs: nil)
        }
        guard case .object(let members) = root else {
            p.add("", "must be a JSON object, found \(root.typeName)")
            return JobFileValidation(job: nil, problems: p.list, owner: owner, runAs: nil)
        }
        var job = JobFile(name: nil, policy: .collectAll, maxParallel: nil, timeout: nil, killGrace: nil, env: [],
                          cwd: nil, user: nil, output: .journal, restartable: false, tasks: [])
        var sawTasks = false
        for (key, value) in members {
            switch key {
            case "name": job.name = p.text(value, key, maxBytes: 200, noControl: true)
            case "policy":
                if let s = p.string(value, key) {
                    if let policy = GatherPolicy(rawValue: s) { job.policy = policy } else {
                        p.add(key, "must be \"collect-all\", \"fail-fast\" or \"cancel-siblings\"")
                    }
                }
            case "max_parallel": job.maxParallel = p.integer(value, key, 1...Int64.max, "an integer of at least 1").map(Int.init)
            case "timeout": job.timeout = p.duration(value, key, positive: true)
            case "kill_grace":
                if let d = p.duration(value, key) {
                    if d > .seconds(300) { p.add(key, "must be at most 5m") } else { job.killGrace = d }
                }
            case "env": job.env = p.env(value, key)
            case "cwd": job.cwd = p.path(value, key)
            case "user": job.user = p.text(value, key, maxBytes: 256, noControl: true)
            case "output":
                if let s = p.string(value, key) {
                    if let o = JobFile.Output(rawValue: s) { job.output = o } else { p.add(key, "must be \"journal\" or \"discard\"") }
                }
            case "restartable":
                if case .bool(let b) = value { job.restartable = b } else { p.add(key, "must be true or false") }
            case "tasks":
                sawTasks = true
                job.tasks = tasks(value, problems: &p)
            default: p.add(key, "unknown key")
            }
        }
        if !sawTasks { p.add("tasks", "required") }
        return JobFileValidation(job: p.list.isEmpty ? job : nil, problems: p.list, owner: owner, runAs: runAs)
    }

    /// The `user` and owner rules of SPEC §8; returns the account tasks run as.
    private static func checkIdentity(context: JobFileContext, owner: UserAccount?, user: JSONValue?, problems p: inout Problems) -> UserAccount? {
        var named: UserAccount? = nil
        var userName: String? = nil
        if case .string(let s) = user, !s.isEmpty, !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            userName = s
            named = context.lookupName(s)
            if named == nil { p.add("user", "no such user \"\(s)\"") }
        }
        if context.daemonUID == 0 {
            guard let owner else {
                p.add("", "the file owner (uid \(context.ownerUID)) has no passwd entry")
                return nil
            }
            if let named, context.ownerUID != 0, named.uid != owner.uid {
                p.add("user", "must be the file owner (\(owner.name)) unless the file is owned by root")
                return nil
            }
            return userName == nil ? owner : named
        }
        guard context.ownerUID == context.daemonUID else {
            p.add("", "owned by uid \(context.ownerUID), but this daemon runs as uid \(context.daemonUID) and takes only its own user's files")
            return nil
        }
        let daemonAccount = context.lookupUID(context.daemonUID)
        if let named, named.uid != context.daemonUID {
            p.add("user", "must be the daemon's user (uid \(context.daemonUID)) when the daemon does not run as root")
        }
        return daemonAccount
    }

    /// The `tasks` array; problems are collected in `p`.
    private static func tasks(_ value: JSONValue, problems p: inout Problems) -> [JobFile.Task] {
        guard case .array(let items) = value else {
            p.add("tasks", "must be an array of 1 to 10000 tasks")
            return []
        }
        guard (1...10000).contains(items.count) else {
            p.add("tasks", "must be an array of 1 to 10000 tasks")
            return []
        }
        var tasks: [JobFile.Task] = []
        var names: [String] = []
        var afters: [[String]] = []
        for (i, item) in items.enumerated() {
            let base = "tasks[\(i)]"
            var task = JobFile.Task(name: "", command: [], timeout: nil, retries: 0, retryDelay: .seconds(1),
                                    successExitCodes: [0], env: [], cwd: nil, after: [])
            // A name that is missing or invalid must not match anything in `after`.
            var graphName = "\u{0}\(i)"
            guard case .object(let members) = item else {
                p.add(base, "must be an object, found \(item.typeName)")
                names.append(graphName); afters.append([])
                continue
            }
            var sawName = false, sawCommand = false
            for (key, v) in members {
                let path = "\(base).\(key)"
                switch key {
                case "name":
                    sawName = true
                    if let s = p.string(v, path) {
                        if TextRules.isTaskName(s) { task.name = s; graphName = s } else {
                            p.add(path, "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
                        }
                    }
                case "command":
                    sawCommand = true
                    if case .array(let args) = v, !args.isEmpty,
                       let strings = Optional(args.compactMap { if case .string(let s) = $0 { return s } else { return nil } }),
                       strings.count == args.count {
                        if let bad = strings.firstIndex(where: { $0.utf8.contains(0) }) {
                            p.add("\(path)[\(bad)]", "must not contain NUL")
                        } else if strings[0].isEmpty {
                            p.add("\(path)[0]", "must not be empty")
                        } else {
                            task.command = strings
                        }
                    } else {
                        p.add(path, "must be a non-empty array of strings")
                    }
                case "timeout": task.timeout = p.duration(v, path, positive: true)
                case "retries": task.retries = p.integer(v, path, 0...100, "an integer from 0 to 100").map(Int.init) ?? 0
                case "retry_delay": task.retryDelay = p.duration(v, path) ?? .seconds(1)
                case "success_exit_codes":
                    if case .array(let codes) = v, !codes.isEmpty {
                        var list: [Int32] = []
                        for (k, c) in codes.enumerated() {
                            if let n = p.integer(c, "\(path)[\(k)]", 0...255, "an integer from 0 to 255") { list.append(Int32(n)) }
                        }
                        task.successExitCodes = list
                    } else {
                        p.add(path, "must be a non-empty array of integers from 0 to 255")
                    }
                case "env": task.env = p.env(v, path)
                case "cwd": task.cwd = p.path(v, path)
                case "after":
                    if case .array(let deps) = v {
                        for (k, d) in deps.enumerated() {
                            if let s = p.string(d, "\(path)[\(k)]") { task.after.append(s) }
                        }
                    } else {
                        p.add(path, "must be an array of task names")
                    }
                default: p.add(path, "unknown key")
                }
            }
            if !sawName { p.add("\(base).name", "required") }
            if !sawCommand { p.add("\(base).command", "required") }
            names.append(graphName)
            afters.append(task.after)
            tasks.append(task)
        }
        for problem in DependencyGraph.problems(names: names, after: afters) {
            switch problem {
            case .duplicateName(let i, _): p.add("tasks[\(i)].name", problem.description)
            case .unknownName(let i, let k, _), .selfReference(let i, let k): p.add("tasks[\(i)].after[\(k)]", problem.description)
            case .cycle(let i, _): p.add("tasks[\(i)].after", problem.description)
            }
        }
        return tasks
    }
}
