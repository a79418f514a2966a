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
/// with its key path; malformed JSON gives line and column. The keys it
/// accepts, and how each is read, are the rows of ``JobKeyTable``.
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
        JobKeyTable.jobIndex.read(members, at: "", into: &job, problems: &p)
        slurmEnvironment(job, taskItems: members.first { $0.key == "tasks" }?.value, problems: &p)
        return JobFileValidation(job: p.list.isEmpty ? job : nil, problems: p.list, owner: owner, runAs: runAs)
    }

    /// `SLURM_*` names in the `env` of an `executor: slurm` task (SPEC §12):
    /// `srun` reads them (`SLURM_CONF`, `SLURM_CLUSTERS`, `SLURM_JOB_ID`…),
    /// so they could send it to another cluster or into another job, where
    /// gatherd's `squeue` and `scancel` never find the attempt. The job's
    /// `env` applies to every task: it is checked when any task is slurm.
    private static func slurmEnvironment(_ job: JobFile, taskItems: JSONValue?, problems p: inout Problems) {
        let why = "SLURM_* names are not allowed with executor: slurm (srun would take them and could run elsewhere)"
        if let first = job.tasks.firstIndex(where: { job.executor(of: $0) == .slurm }) {
            for (key, _) in job.env where key.hasPrefix("SLURM_") {
                p.add(JobKeyPath.member("env", key), "\(why); task \(job.tasks[first].name) runs in Slurm")
            }
        }
        // Task paths need each task's index in the file: only when every
        // item was a task (else that item's problem is reported already).
        guard case .array(let items)? = taskItems, items.count == job.tasks.count else { return }
        for (i, task) in job.tasks.enumerated() where job.executor(of: task) == .slurm {
            for (key, _) in task.env where key.hasPrefix("SLURM_") {
                p.add(JobKeyPath.member("tasks[\(i)].env", key), why)
            }
        }
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

    /// The `tasks` array; problems are collected in `p`. The `tasks` row of
    /// ``JobKeyTable`` runs it; the names and `after` lists of every task are
    /// checked together here, once each task was read through the task rows.
    static func tasks(_ value: JSONValue, problems p: inout Problems) -> [JobFile.Task] {
        guard case .array(let items) = value, (1...10000).contains(items.count) else {
            p.add("tasks", "must be an array of 1 to 10000 tasks")
            return []
        }
        var tasks: [JobFile.Task] = []
        var names: [String] = []
        var afters: [[String]] = []
        var isFinally: [Bool] = []
        // For each task, where each name of `afters` stands in the file.
        var positions: [[Int]] = []
        for (i, item) in items.enumerated() {
            let base = "tasks[\(i)]"
            // A name that is missing or invalid must not match anything in `after`.
            let unnamed = "\u{0}\(i)"
            guard case .object(let members) = item else {
                p.add(base, "must be an object, found \(item.typeName)")
                names.append(unnamed); afters.append([]); positions.append([]); isFinally.append(false)
                continue
            }
            var task = JobFile.Task(name: "", command: [], timeout: nil, retries: 0, retryDelay: .seconds(1),
                                    successExitCodes: [0], env: [], cwd: nil, after: [])
            JobKeyTable.taskIndex.read(members, at: base, into: &task, problems: &p)
            names.append(task.name.isEmpty ? unnamed : task.name)
            afters.append(task.after)
            positions.append(task.afterPositions)
            isFinally.append(task.isFinally)
            tasks.append(task)
        }
        for problem in DependencyGraph.problems(names: names, after: afters, isFinally: isFinally) {
            switch problem {
            case .duplicateName(let i, _): p.add("tasks[\(i)].name", problem.description)
            case .unknownName(let i, let k, _), .selfReference(let i, let k), .namesFinallyTask(let i, let k, _):
                p.add("tasks[\(i)].after[\(positions[i][k])]", problem.description)
            case .cycle(let i, _): p.add("tasks[\(i)].after", problem.description)
            }
        }
        return tasks
    }
}
