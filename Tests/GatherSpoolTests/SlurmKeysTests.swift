import Gather
import Testing
@testable import GatherSpool

/// The `executor` and `slurm` keys (SPEC §4, §12): strict like every other key,
/// and a task's `slurm` keys override the job's key by key.
@Suite("job file: executor and slurm keys")
struct SlurmKeysTests {
    @Test func jobAndTaskKeysAreReadAndMergedKeyByKey() throws {
        let text = #"""
        {"executor": "slurm",
         "slurm": {"partition": "batch", "account": "ops", "qos": "low", "constraint": "ssd",
                   "cpus_per_task": 2, "mem": "1G", "time_min": "90s"},
         "tasks": [
           {"name": "a", "command": ["x"]},
           {"name": "b", "command": ["y"], "slurm": {"partition": "gpu", "cpus_per_task": 8, "mem": 1048576}},
           {"name": "c", "command": ["z"], "executor": "local"}
         ]}
        """#
        let v = JobFileValidator.validate(Array(text.utf8), context: context())
        #expect(v.problems.isEmpty, "\(v.errorLine)")
        let job = try #require(v.job)
        #expect(job.executor == .slurm)
        #expect(job.usesSlurm)
        #expect(job.tasks.map { job.executor(of: $0) } == [.slurm, .slurm, .local])
        let a = job.slurmOptions(of: job.tasks[0])
        #expect(a.partition == "batch" && a.account == "ops" && a.qos == "low" && a.constraint == "ssd")
        #expect(a.cpusPerTask == 2 && a.mem == 1 << 30 && a.timeMin == .seconds(90))
        let b = job.slurmOptions(of: job.tasks[1])
        // Its own keys win; the job's other keys stay.
        #expect(b.partition == "gpu" && b.cpusPerTask == 8 && b.mem == 1 << 20)
        #expect(b.account == "ops" && b.qos == "low" && b.constraint == "ssd" && b.timeMin == .seconds(90))
    }

    @Test func localIsTheDefault() throws {
        let job = try #require(JobFileValidator.validate(Array(#"{\#(okTasks)}"#.utf8), context: context()).job)
        #expect(job.executor == .local)
        #expect(!job.usesSlurm)
        #expect(job.slurm == JobFile.SlurmOptions())
    }

    /// One task of several asks for slurm: the job uses it (and is probed at its claim).
    @Test func oneSlurmTaskMakesTheJobUseSlurm() throws {
        let text = #"{"tasks":[{"name":"a","command":["x"]},{"name":"b","command":["y"],"executor":"slurm"}]}"#
        let job = try #require(JobFileValidator.validate(Array(text.utf8), context: context()).job)
        #expect(job.usesSlurm)
    }

    static let bad: [(String, [String])] = [
        (#"{"executor":"pbs",\#(okTasks)}"#, [#"executor: must be "local" or "slurm""#]),
        (#"{"executor":1,\#(okTasks)}"#, ["executor: must be a string, found a number"]),
        (#"{"tasks":[{"name":"a","command":["x"],"executor":"Slurm"}]}"#, [#"tasks[0].executor: must be "local" or "slurm""#]),
        (#"{"slurm":"batch",\#(okTasks)}"#, ["slurm: must be an object, found a string"]),
        (#"{"slurm":{"partiton":"x"},\#(okTasks)}"#, ["slurm.partiton: unknown key"]),
        (#"{"tasks":[{"name":"a","command":["x"]},{"name":"b","command":["y"],"slurm":{"cpu_per_task":2}}]}"#,
         ["tasks[1].slurm.cpu_per_task: unknown key"]),
        (#"{"slurm":{"cpus_per_task":0},\#(okTasks)}"#, ["slurm.cpus_per_task: must be an integer from 1 to 4194304"]),
        (#"{"slurm":{"cpus_per_task":2.0},\#(okTasks)}"#,
         ["slurm.cpus_per_task: must be an integer from 1 to 4194304, not a fraction or exponent"]),
        (#"{"slurm":{"cpus_per_task":"2"},\#(okTasks)}"#,
         ["slurm.cpus_per_task: must be an integer from 1 to 4194304, found a string"]),
        (#"{"slurm":{"mem":"1GB"},\#(okTasks)}"#, [#"slurm.mem: must be a size like "512M" or a number of bytes"#]),
        (#"{"slurm":{"mem":0},\#(okTasks)}"#, ["slurm.mem: must be at least 1 byte"]),
        (#"{"slurm":{"time_min":"soon"},\#(okTasks)}"#,
         [#"slurm.time_min: must be a duration such as "30s", "1h30m" or a number of seconds"#]),
        (#"{"slurm":{"time_min":0},\#(okTasks)}"#, ["slurm.time_min: must be more than 0"]),
        (#"{"slurm":{"partition":""},\#(okTasks)}"#, ["slurm.partition: must not be empty"]),
        (#"{"slurm":{"account":"a b"},\#(okTasks)}"#, ["slurm.account: must not contain spaces"]),
        (#"{"slurm":{"qos":"a\nb"},\#(okTasks)}"#, ["slurm.qos: must not contain control characters"]),
        (#"{"slurm":{"constraint":7},\#(okTasks)}"#, ["slurm.constraint: must be a string, found a number"]),
        // Every problem of the object, each at its own path.
        (#"{"tasks":[{"name":"a","command":["x"],"slurm":{"qso":"x","mem":"big","cpus_per_task":-1}}]}"#,
         ["tasks[0].slurm.qso: unknown key", #"tasks[0].slurm.mem: must be a size like "512M" or a number of bytes"#,
          "tasks[0].slurm.cpus_per_task: must be an integer from 1 to 4194304"]),
    ]

    @Test(arguments: bad.indices)
    func badSlurmKeysReportExactErrors(_ i: Int) {
        let (text, expected) = Self.bad[i]
        #expect(problems(text) == expected, "case \(i): \(text)")
    }

    /// state.log's `slurm` lines reach state.json's `slurm_jobs`, which reads back.
    @Test func slurmJobsInTheProgressLogAndStateFile() throws {
        var state = JobStateFile(id: "j", file: "j.json", name: "j", policy: .collectAll, uid: 0, gid: 0, user: "root",
                                 runAs: "root", phase: .running, receivedAt: .now(), runs: 1,
                                 tasks: [.init(name: "a", status: .waiting), .init(name: "b", status: .waiting)])
        let log = #"""
        {"event":"slurm","index":1,"task":"b","attempt":1,"slurm_job":41}
        {"event":"slurm","index":1,"task":"b","attempt":2,"slurm_job":57}
        {"event":"slurm","index":9,"task":"z","attempt":1,"slurm_job":99}

        """#
        ProgressLog.apply(Array(log.utf8), to: &state)
        #expect(state.slurmJobs == [.init(task: "b", attempt: 1, id: 41), .init(task: "b", attempt: 2, id: 57)])
        let again = try #require(JobStateFile(json: state.json))
        #expect(again.slurmJobs == state.slurmJobs)
        #expect(again == state)
    }

    /// A record's `slurm_job` is written for a task that ran and reads back.
    @Test func recordKeepsSlurmJob() throws {
        let record = JobRecord(id: "j", name: "j", file: "j.json", state: .succeeded, policy: .collectAll, uid: 0, gid: 0,
                               user: "root", runAs: "root", receivedAt: .now(), startedAt: .now(), error: nil,
                               tasks: [.init(name: "a", outcome: .succeeded, exitStatus: 0, attempts: 1, slurmJob: 12),
                                       .init(name: "b", outcome: .succeeded, exitStatus: 0, attempts: 1)])
        let text = String(decoding: record.json.serializedBytes(trailingNewline: false), as: UTF8.self)
        #expect(text.components(separatedBy: "slurm_job").count == 2, "\(text)")
        let back = try #require(JobRecord(json: record.json, gid: 0))
        #expect(back.tasks.map(\.slurmJob) == [12, nil])
    }
}
