import Gather

/// Every key of the job file (SPEC §4) that gatherd implements, one row
/// each: the validator dispatches through these rows, and the help text and
/// the `gatherd.job(5)` manual are rendered from them. A key is added to the
/// job file by adding its row; a key without a row is an "unknown key".
public enum JobKeyTable {
    /// The rows, job keys first, each scope in the order the manual lists it.
    public static let keys: [JobKey] = jobKeys + taskKeys

    /// The rows of one scope, in table order.
    public static func keys(in scope: JobKey.Scope) -> [JobKey] { keys.filter { $0.scope == scope } }

    /// What the validator runs over the job object's members.
    static let jobIndex = JobKeyIndex<JobFile>(keys) { if case .job(let read) = $0 { read } else { nil } }
    /// What the validator runs over each task object's members.
    static let taskIndex = JobKeyIndex<JobFile.Task>(keys) { if case .task(let read) = $0 { read } else { nil } }

    private static let jobKeys: [JobKey] = [
        .job("name", type: "string, no control characters, at most 200 bytes", default: "the job's ID",
             meaning: "human name, shown in messages", section: "§4") { v, path, job, p in
            job.name = p.text(v, path, maxBytes: 200, noControl: true)
        },
        .job("policy", oneOf: GatherPolicy.self, default: "collect-all",
             meaning: "what the first error (first-success: the first success) does to the other tasks",
             section: "§2") { $0.policy = $1 },
        .job("max_parallel", type: "integer, at least 1", default: "no limit",
             meaning: "tasks of this job running at once", section: "§4") { v, path, job, p in
            job.maxParallel = p.integer(v, path, 1...Int64.max, "an integer of at least 1").map(Int.init)
        },
        .job("timeout", type: "duration, more than 0", default: "none",
             meaning: "deadline for the whole job, from its start", section: "§2") { v, path, job, p in
            job.timeout = p.duration(v, path, positive: true)
        },
        .job("kill_grace", type: "duration, at most 5m", default: "gatherd's --kill-grace (5s)",
             meaning: "SIGTERM to SIGKILL grace for every stop of this job's tasks", section: "§2") { v, path, job, p in
            if let d = p.duration(v, path) {
                if d > JobFile.maxKillGrace { p.add(path, "must be at most 5m") } else { job.killGrace = d }
            }
        },
        .job("env", type: "object of strings; names ^[A-Za-z_][A-Za-z0-9_]*$, not GATHER_*, nor SLURM_* when a task runs with executor slurm", default: "{}",
             meaning: "added to the task environment", section: "§4") { v, path, job, p in
            job.env = p.env(v, path)
        },
        .job("cwd", type: "absolute path", default: "/",
             meaning: "working directory of the tasks", section: "§4") { v, path, job, p in
            job.cwd = p.path(v, path)
        },
        // The rules that need the passwd database and the owner are checked
        // apart (JobFileValidator.checkIdentity); this row reads the text only.
        .job("user", type: "user name", default: "the file owner",
             meaning: "who the tasks run as; must be the owner unless the file is owned by root",
             section: "§8") { v, path, job, p in
            job.user = p.text(v, path, maxBytes: 256, noControl: true)
        },
        .job("output", oneOf: JobFile.Output.self, default: "journal",
             meaning: "where task stdout and stderr lines go", section: "§7") { $0.output = $1 },
        .job("restartable", type: "bool", default: "false",
             meaning: "run the job again if the daemon stopped while it ran (at most 3 runs)",
             section: "§3") { v, path, job, p in
            if case .bool(let b) = v { job.restartable = b } else { p.add(path, "must be true or false") }
        },
        .job("memory_max", type: sizeType, default: "no limit",
             meaning: "memory limit of the job's cgroup (memory.max); an OOM kill inside it is the outcome killed; "
                 + "rejected where gatherd cannot enforce it", section: "§11") { v, path, job, p in
            job.limits.memoryMax = p.size(v, path)
        },
        .job("cpu_max", type: cpuType, default: "no limit",
             meaning: "CPU limit of the job's cgroup (cpu.max), in percent of one CPU: 150% is one and a half CPUs; "
                 + "rejected where gatherd cannot enforce it", section: "§11") { v, path, job, p in
            job.limits.cpuMax = p.cpuPercent(v, path)
        },
        .job("tasks_max", type: tasksType, default: "no limit",
             meaning: "processes and threads at once in the job's cgroup (pids.max); "
                 + "rejected where gatherd cannot enforce it", section: "§11") { v, path, job, p in
            job.limits.tasksMax = p.integer(v, path, 1...Problems.maxTasks, tasksWhat).map(Int.init)
        },
        .job("on_end", type: "array of strings, non-empty, no NUL", default: "none",
             meaning: "a hook run after the record is written, whatever the state: argv, run as the tasks' user "
                 + "with their environment plus GATHER_STATE, GATHER_RECORD, GATHER_ERROR; 60s limit",
             section: "§11") { v, path, job, p in
            job.onEnd = p.command(v, path)
        },
        .job("on_failure", type: "array of strings, non-empty, no NUL", default: "none",
             meaning: "as on_end, run only when the job's state is failed", section: "§11") { v, path, job, p in
            job.onFailure = p.command(v, path)
        },
        .job("executor", oneOf: JobFile.Executor.self, default: "local",
             meaning: "where the tasks run: local, a child process of gatherd; slurm, a Slurm job step through srun, "
                 + "started by gatherd as the task's user (see slurm)", section: "§12") { $0.executor = $1 },
        .job("slurm", type: slurmType, default: "{}",
             meaning: slurmMeaning, section: "§12") { v, path, job, p in
            job.slurm = p.slurm(v, path)
        },
        .job("tasks", type: "array of 1 to 10000 task objects", default: nil,
             meaning: "the tasks of the job, with the task keys below", section: "§4") { v, _, job, p in
            job.tasks = JobFileValidator.tasks(v, problems: &p)
        },
    ]

    private static let taskKeys: [JobKey] = [
        .task("name", type: "string matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", default: nil,
              meaning: "unique in the job; what after, messages and records use", section: "§4") { v, path, task, p in
            if let s = p.string(v, path) {
                if TextRules.isTaskName(s) { task.name = s } else { p.add(path, "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$") }
            }
        },
        .task("command", type: "array of strings, non-empty, no NUL", default: nil,
              meaning: "argv; command[0] absolute or looked up in the task's PATH; no shell",
              section: "§4") { v, path, task, p in
            if let argv = p.command(v, path) { task.command = argv }
        },
        .task("timeout", type: "duration, more than 0", default: "none",
              meaning: "deadline of each attempt", section: "§5") { v, path, task, p in
            task.timeout = p.duration(v, path, positive: true)
        },
        .task("retries", type: "integer 0 to 100", default: "0",
              meaning: "further attempts after an error outcome", section: "§2") { v, path, task, p in
            task.retries = p.integer(v, path, 0...100, "an integer from 0 to 100").map(Int.init) ?? 0
        },
        .task("retry_delay", type: "duration", default: "1s",
              meaning: "before the first retry, doubled for each next one, at most retry_delay_max",
              section: "§2") { v, path, task, p in
            task.retryDelay = p.duration(v, path) ?? .seconds(1)
        },
        .task("retry_delay_max", type: "duration", default: "10m",
              meaning: "cap of the doubled retry delay", section: "§2") { v, path, task, p in
            task.retryDelayMax = p.duration(v, path) ?? JobFile.defaultRetryDelayMax
        },
        .task("retry_exit_codes", type: "array of integers 0 to 255, non-empty", default: "any error",
              meaning: "retry only these exit statuses; any other status, a signal, a timeout or a spawn failure "
                  + "is final at once", section: "§2") { v, path, task, p in
            if let codes = p.exitCodes(v, path) { task.retryExitCodes = codes }
        },
        .task("finally", type: "bool", default: "false",
              meaning: "a clean-up task: it starts once every other task has ended, whatever the policy and the "
                  + "outcomes, also after a cancel request; not after the job deadline or when the daemon stops; "
                  + "no task may name it in after", section: "§2") { v, path, task, p in
            if case .bool(let b) = v { task.isFinally = b } else { p.add(path, "must be true or false") }
        },
        .task("success_exit_codes", type: "array of integers 0 to 255, non-empty", default: "[0]",
              meaning: "exit statuses that count as success", section: "§5") { v, path, task, p in
            if let codes = p.exitCodes(v, path) { task.successExitCodes = codes }
        },
        .task("env", type: "as the job's env", default: "the job's",
              meaning: "added to the task environment after the job's env", section: "§4") { v, path, task, p in
            task.env = p.env(v, path)
        },
        .task("cwd", type: "absolute path", default: "the job's",
              meaning: "working directory of this task", section: "§4") { v, path, task, p in
            task.cwd = p.path(v, path)
        },
        .task("after", type: "array of task names", default: "[]",
              meaning: "start only once these tasks succeeded; unknown names and cycles are errors",
              section: "§2") { v, path, task, p in
            if case .array(let deps) = v {
                for (k, d) in deps.enumerated() {
                    if let s = p.string(d, "\(path)[\(k)]") { task.after.append(s); task.afterPositions.append(k) }
                }
            } else {
                p.add(path, "must be an array of task names")
            }
        },
        .task("memory_max", type: sizeType, default: "no limit",
              meaning: "memory limit of this task's cgroup (memory.max), inside the job's; "
                  + "an OOM kill inside it is the outcome killed", section: "§11") { v, path, task, p in
            task.limits.memoryMax = p.size(v, path)
        },
        .task("cpu_max", type: cpuType, default: "no limit",
              meaning: "CPU limit of this task's cgroup (cpu.max), in percent of one CPU, inside the job's",
              section: "§11") { v, path, task, p in
            task.limits.cpuMax = p.cpuPercent(v, path)
        },
        .task("tasks_max", type: tasksType, default: "no limit",
              meaning: "processes and threads at once in this task's cgroup (pids.max), inside the job's",
              section: "§11") { v, path, task, p in
            task.limits.tasksMax = p.integer(v, path, 1...Problems.maxTasks, tasksWhat).map(Int.init)
        },
        .task("executor", oneOf: JobFile.Executor.self, default: "the job's",
              meaning: "where this task runs: local or slurm", section: "§12") { $0.executor = $1 },
        .task("slurm", type: slurmType, default: "{}",
              meaning: "this task's slurm options: each key given here replaces the job's key of the same name, "
                  + "the job's other keys stay", section: "§12") { v, path, task, p in
            task.slurm = p.slurm(v, path)
        },
    ]

    /// The keys of a `slurm` object (SPEC §4, §12), each with its `srun` option, in the order the manual lists them.
    public static let slurmKeys: [(name: String, type: String, option: String)] = [
        ("partition", "string", "--partition"),
        ("account", "string", "--account"),
        ("qos", "string", "--qos"),
        ("constraint", "string", "--constraint"),
        ("cpus_per_task", "integer, at least 1", "--cpus-per-task"),
        ("mem", "size, as memory_max (rounded up to whole MiB)", "--mem"),
        ("time_min", "duration, more than 0 (rounded up to whole minutes)", "--time-min"),
    ]

    private static let slurmType = "object: " + slurmKeys.map { "\($0.name) (\($0.type))" }.joined(separator: ", ")
    private static let slurmMeaning = "options of executor: slurm, each passed to srun as its option of the same name ("
        + slurmKeys.map { "\($0.name) as \($0.option)" }.joined(separator: ", ")
        + "); strings are non-empty, at most 256 bytes, without control characters or spaces; unknown keys are errors"

    /// The types of the limit keys, the same at both scopes.
    private static let sizeType = #"integer of bytes, or string of digits with an optional binary unit K, M, G or T ("512M"); at least 1"#
    private static let cpuType = #"string "N%", N from 1 to 100000"#
    private static let tasksType = "integer 1 to 4194304"
    /// What a wrong `tasks_max` is told it must be.
    private static let tasksWhat = "an integer from 1 to 4194304"
}
