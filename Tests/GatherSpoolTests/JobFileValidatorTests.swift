import Gather
import GatherSystem
import Testing
@testable import GatherSpool

/// Accounts the validator tests see, instead of the machine's passwd.
let testAccounts: [UserAccount] = [
    UserAccount(name: "root", uid: 0, gid: 0, groups: [0], home: "/root", shell: "/bin/sh"),
    UserAccount(name: "alice", uid: 1000, gid: 1000, groups: [1000], home: "/home/alice", shell: "/bin/sh"),
    UserAccount(name: "bob", uid: 1001, gid: 1001, groups: [1001], home: "/home/bob", shell: "/bin/sh"),
]

func context(owner: UInt32 = 1000, daemon: UInt32 = 0) -> JobFileContext {
    JobFileContext(ownerUID: owner, daemonUID: daemon,
                   lookupName: { name in testAccounts.first { $0.name == name } },
                   lookupUID: { uid in testAccounts.first { $0.uid == uid } })
}

func problems(_ text: String, _ ctx: JobFileContext = context()) -> [String] {
    JobFileValidator.validate(Array(text.utf8), context: ctx).problems.map(\.description)
}

/// A task list of one good task, to embed.
let okTasks = #""tasks":[{"name":"a","command":["/bin/true"]}]"#

/// (file, every expected error line): each case breaks one rule of SPEC §4/§8.
let badFiles: [(String, [String])] = [
    (#"{"tasks":[{"name":"a","command":[]}]}"#, ["tasks[0].command: must be a non-empty array of strings"]),
    (#"{"tasks":[{"name":"a","command":"ls"}]}"#, ["tasks[0].command: must be a non-empty array of strings"]),
    (#"{"tasks":[{"name":"a","command":["ls",1]}]}"#, ["tasks[0].command: must be a non-empty array of strings"]),
    (#"{"tasks":[{"name":"a","command":["ls","a\u0000b"]}]}"#, ["tasks[0].command[1]: must not contain NUL"]),
    (#"{"tasks":[{"name":"a","command":[""]}]}"#, ["tasks[0].command[0]: must not be empty"]),
    (#"{}"#, ["tasks: required"]),
    (#"{"tasks":[]}"#, ["tasks: must be an array of 1 to 10000 tasks"]),
    (#"{"tasks":{}}"#, ["tasks: must be an array of 1 to 10000 tasks"]),
    (#"{"tasks":[1]}"#, ["tasks[0]: must be an object, found a number"]),
    (#"{"tasks":[{"command":["x"]}]}"#, ["tasks[0].name: required"]),
    (#"{"tasks":[{"name":"a"}]}"#, ["tasks[0].command: required"]),
    (#"{"tasks":[{"name":"-a","command":["x"]}]}"#, ["tasks[0].name: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"]),
    (#"{"tasks":[{"name":"\#(String(repeating: "a", count: 65))","command":["x"]}]}"#, ["tasks[0].name: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"]),
    (#"{"tasks":[{"name":"a","command":["x"]},{"name":"a","command":["y"]}]}"#, ["tasks[1].name: duplicate task name \"a\""]),
    (#"{"nmae":"x",\#(okTasks)}"#, ["nmae: unknown key"]),
    (#"{"tasks":[{"name":"a","cmd":["x"],"command":["x"]}]}"#, ["tasks[0].cmd: unknown key"]),
    (#"{"name":"x","name":"y",\#(okTasks)}"#, ["name: duplicate key (line 1, column 13)"]),
    (#"{"tasks":[{"name":"a","name":"b","command":["x"]}]}"#, ["tasks[0].name: duplicate key (line 1, column 23)"]),
    (#"{"max_parallel":4.0,\#(okTasks)}"#, ["max_parallel: must be an integer of at least 1, not a fraction or exponent"]),
    (#"{"max_parallel":1e2,\#(okTasks)}"#, ["max_parallel: must be an integer of at least 1, not a fraction or exponent"]),
    (#"{"max_parallel":0,\#(okTasks)}"#, ["max_parallel: must be an integer of at least 1"]),
    (#"{"max_parallel":"4",\#(okTasks)}"#, ["max_parallel: must be an integer of at least 1, found a string"]),
    (#"{"tasks":[{"name":"a","command":["x"],"retries":101}]}"#, ["tasks[0].retries: must be an integer from 0 to 100"]),
    (#"{"tasks":[{"name":"a","command":["x"],"retries":2.0}]}"#, ["tasks[0].retries: must be an integer from 0 to 100, not a fraction or exponent"]),
    (#"{"tasks":[{"name":"a","command":["x"],"success_exit_codes":[0,256]}]}"#, ["tasks[0].success_exit_codes[1]: must be an integer from 0 to 255"]),
    (#"{"tasks":[{"name":"a","command":["x"],"success_exit_codes":[]}]}"#, ["tasks[0].success_exit_codes: must be a non-empty array of integers from 0 to 255"]),
    (#"{"policy":"fast",\#(okTasks)}"#, [#"policy: must be "collect-all", "fail-fast", "cancel-siblings" or "first-success""#]),
    (#"{"tasks":[{"name":"a","command":["x"],"retry_exit_codes":[]}]}"#, ["tasks[0].retry_exit_codes: must be a non-empty array of integers from 0 to 255"]),
    (#"{"tasks":[{"name":"a","command":["x"],"retry_exit_codes":[75,-1]}]}"#, ["tasks[0].retry_exit_codes[1]: must be an integer from 0 to 255"]),
    (#"{"tasks":[{"name":"a","command":["x"],"retry_exit_codes":"75"}]}"#, ["tasks[0].retry_exit_codes: must be a non-empty array of integers from 0 to 255"]),
    (#"{"tasks":[{"name":"a","command":["x"],"retry_delay_max":"soon"}]}"#, [#"tasks[0].retry_delay_max: must be a duration such as "30s", "1h30m" or a number of seconds"#]),
    (#"{"tasks":[{"name":"a","command":["x"],"retry_delay_max":0.0001}]}"#, ["tasks[0].retry_delay_max: must be 0 or at least 1ms"]),
    (#"{"tasks":[{"name":"a","command":["x"],"finally":"yes"}]}"#, ["tasks[0].finally: must be true or false"]),
    (#"{"tasks":[{"name":"a","command":["x"],"finally":true},{"name":"b","command":["y"],"after":["a"]}]}"#,
     [#"tasks[1].after[0]: "a" is a finally task, which no task can wait for"#]),
    (#"{"timeout":"5x",\#(okTasks)}"#, [#"timeout: must be a duration such as "30s", "1h30m" or a number of seconds"#]),
    (#"{"timeout":-1,\#(okTasks)}"#, [#"timeout: must be a duration such as "30s", "1h30m" or a number of seconds"#]),
    (#"{"timeout":"0s",\#(okTasks)}"#, ["timeout: must be more than 0"]),
    (#"{"kill_grace":"6m",\#(okTasks)}"#, ["kill_grace: must be at most 5m"]),
    (#"{"tasks":[{"name":"a","command":["x"],"timeout":true}]}"#, [#"tasks[0].timeout: must be a duration such as "30s", "1h30m" or a number of seconds"#]),
    (#"{"env":[],\#(okTasks)}"#, ["env: must be an object of strings, found an array"]),
    (#"{"env":{"1X":"v"},\#(okTasks)}"#, ["env.1X: environment name must match ^[A-Za-z_][A-Za-z0-9_]*$"]),
    (#"{"env":{"A-B":"v"},\#(okTasks)}"#, ["env.A-B: environment name must match ^[A-Za-z_][A-Za-z0-9_]*$"]),
    (#"{"env":{"GATHER_JOB":"v"},\#(okTasks)}"#, ["env.GATHER_JOB: GATHER_* names are set by gatherd"]),
    (#"{"env":{"A":1},\#(okTasks)}"#, ["env.A: must be a string, found a number"]),
    (#"{"tasks":[{"name":"a","command":["x"],"env":{"B\u0001":"v"}}]}"#, ["tasks[0].env.B\\u{1}: environment name must match ^[A-Za-z_][A-Za-z0-9_]*$"]),
    (#"{"cwd":"srv",\#(okTasks)}"#, ["cwd: must be an absolute path"]),
    (#"{"tasks":[{"name":"a","command":["x"],"cwd":"/a\u0000"}]}"#, ["tasks[0].cwd: must not contain NUL"]),
    (#"{"name":"a\u0007b",\#(okTasks)}"#, ["name: must not contain control characters"]),
    (#"{"name":"\#(String(repeating: "n", count: 201))",\#(okTasks)}"#, ["name: must be at most 200 bytes"]),
    (#"{"name":"a\u0000",\#(okTasks)}"#, ["name: must not contain NUL"]),
    (#"{"output":"file",\#(okTasks)}"#, [#"output: must be "journal" or "discard""#]),
    (#"{"restartable":"yes",\#(okTasks)}"#, ["restartable: must be true or false"]),
    (#"{"memory_max":"512MB",\#(okTasks)}"#, [#"memory_max: must be a size like "512M" or a number of bytes"#]),
    (#"{"memory_max":"512m",\#(okTasks)}"#, [#"memory_max: must be a size like "512M" or a number of bytes"#]),
    (#"{"memory_max":" 512M",\#(okTasks)}"#, [#"memory_max: must be a size like "512M" or a number of bytes"#]),
    (#"{"memory_max":"-1",\#(okTasks)}"#, [#"memory_max: must be a size like "512M" or a number of bytes"#]),
    (#"{"memory_max":"",\#(okTasks)}"#, [#"memory_max: must be a size like "512M" or a number of bytes"#]),
    (#"{"memory_max":"0M",\#(okTasks)}"#, ["memory_max: must be at least 1 byte"]),
    (#"{"memory_max":0,\#(okTasks)}"#, ["memory_max: must be at least 1 byte"]),
    (#"{"memory_max":-5,\#(okTasks)}"#, ["memory_max: must be at least 1 byte"]),
    (#"{"memory_max":"4194305T",\#(okTasks)}"#, ["memory_max: must be at most 4194304T"]),
    (#"{"memory_max":"99999999999999999999",\#(okTasks)}"#, ["memory_max: must be at most 4194304T"]),
    (#"{"memory_max":4611686018427387905,\#(okTasks)}"#, ["memory_max: must be at most 4194304T"]),
    (#"{"memory_max":1e9,\#(okTasks)}"#, [#"memory_max: must be a size like "512M" or a number of bytes, not a fraction or exponent"#]),
    (#"{"memory_max":true,\#(okTasks)}"#, [#"memory_max: must be a size like "512M" or a number of bytes, found a boolean"#]),
    (#"{"tasks":[{"name":"a","command":["x"]},{"name":"b","command":["x"],"memory_max":"1.5G"}]}"#, [#"tasks[1].memory_max: must be a size like "512M" or a number of bytes"#]),
    (#"{"cpu_max":150,\#(okTasks)}"#, [#"cpu_max: must be a percent of one CPU like "150%", found a number"#]),
    (#"{"cpu_max":"150",\#(okTasks)}"#, [#"cpu_max: must be a percent of one CPU like "150%""#]),
    (#"{"cpu_max":"1.5%",\#(okTasks)}"#, [#"cpu_max: must be a percent of one CPU like "150%""#]),
    (#"{"cpu_max":"%",\#(okTasks)}"#, [#"cpu_max: must be a percent of one CPU like "150%""#]),
    (#"{"cpu_max":"0%",\#(okTasks)}"#, ["cpu_max: must be from 1% to 100000%"]),
    (#"{"cpu_max":"100001%",\#(okTasks)}"#, ["cpu_max: must be from 1% to 100000%"]),
    (#"{"cpu_max":"99999999999999999999%",\#(okTasks)}"#, ["cpu_max: must be from 1% to 100000%"]),
    (#"{"tasks":[{"name":"a","command":["x"],"cpu_max":"-5%"}]}"#, [#"tasks[0].cpu_max: must be a percent of one CPU like "150%""#]),
    (#"{"tasks_max":0,\#(okTasks)}"#, ["tasks_max: must be an integer from 1 to 4194304"]),
    (#"{"tasks_max":4194305,\#(okTasks)}"#, ["tasks_max: must be an integer from 1 to 4194304"]),
    (#"{"tasks_max":"64",\#(okTasks)}"#, ["tasks_max: must be an integer from 1 to 4194304, found a string"]),
    (#"{"tasks":[{"name":"a","command":["x"],"tasks_max":6.0}]}"#, ["tasks[0].tasks_max: must be an integer from 1 to 4194304, not a fraction or exponent"]),
    (#"{"tasks":[{"name":"a","command":["x"],"after":["zz"]}]}"#, [#"tasks[0].after[0]: unknown task "zz""#]),
    (#"{"tasks":[{"name":"a","command":["x"],"after":["a"]}]}"#, ["tasks[0].after[0]: a task cannot wait for itself"]),
    (#"{"tasks":[{"name":"a","command":["x"],"after":["b"]},{"name":"b","command":["y"],"after":["a"]}]}"#, ["tasks[1].after: dependency cycle: a -> b -> a"]),
    (#"{"tasks":[{"name":"a","command":["x"],"after":"b"}]}"#, ["tasks[0].after: must be an array of task names"]),
    (#"{"user":"bob",\#(okTasks)}"#, ["user: must be the file owner (alice) unless the file is owned by root"]),
    (#"{"user":"nosuch",\#(okTasks)}"#, [#"user: no such user "nosuch""#]),
    (#"{"user":"ro\u0001ot",\#(okTasks)}"#, ["user: must not contain control characters"]),
    (#"[]"#, ["must be a JSON object, found an array"]),
    (#"{"tasks": ["#, ["line 1, column 12: expected a value, found end of file"]),
    ("{\n  \"tasks\": [1,]\n}", ["line 2, column 15: expected a value, found ']'"]),
    (#"{"tasks":[],}"#, ["line 1, column 13: expected a key in quotes, found '}'"]),
    ("{\"name\":\"\u{0}\"}", ["line 1, column 10: NUL character in a string"]),
    ("{\"name\":\"a\tb\"}", ["line 1, column 11: control character in a string (write it as an escape)"]),
    (#"{"max_parallel": 01}"#, ["line 1, column 18: a number must not start with 0"]),
    (#"{'a':1}"#, ["line 1, column 2: expected a key in quotes, found '''"]),
    (#"{} x"#, ["line 1, column 4: unexpected text after the end of the document"]),
    (#"{"name":"\ud800"}"#, [#"line 1, column 10: unpaired surrogate in \u escape"#]),
    (#"{"name":"é",}"#, ["line 1, column 13: expected a key in quotes, found '}'"]),
    ("\u{0}", ["line 1, column 1: expected a value, found a NUL character"]),
    // A duration is 0 or at least 1 ms (SPEC §4), also when it rounds to 0 ns.
    (#"{"timeout":"0.5ms",\#(okTasks)}"#, ["timeout: must be at least 1ms"]),
    (#"{"kill_grace":0.0000001,\#(okTasks)}"#, ["kill_grace: must be 0 or at least 1ms"]),
    (#"{"kill_grace":5e-324,\#(okTasks)}"#, ["kill_grace: must be 0 or at least 1ms"]),
    (#"{"tasks":[{"name":"a","command":["x"],"retry_delay":"0.0000001s","timeout":0.0009}]}"#,
     ["tasks[0].retry_delay: must be 0 or at least 1ms", "tasks[0].timeout: must be at least 1ms"]),
    // `after` problems name the entry as written, past entries that are not names.
    (#"{"tasks":[{"name":"a","command":["x"],"after":[true,"a","nope"]}]}"#,
     ["tasks[0].after[0]: must be a string, found a boolean", "tasks[0].after[1]: a task cannot wait for itself",
      #"tasks[0].after[2]: unknown task "nope""#]),
    (#"{"tasks":[{"name":"a","command":["x"],"after":["b\u0000",1,"c"]}]}"#,
     ["tasks[0].after[0]: must not contain NUL", "tasks[0].after[1]: must be a string, found a number",
      #"tasks[0].after[2]: unknown task "c""#]),
    // An empty key has a key path of its own, never the whole file's empty one.
    (#"{"":1,\#(okTasks)}"#, [#""": unknown key"#]),
    (#"{"":1,"":2,\#(okTasks)}"#, [#""": duplicate key (line 1, column 7)"#, #""": unknown key"#]),
    (#"{"tasks":[{"name":"a","command":["x"],"":1}]}"#, [#"tasks[0]."": unknown key"#]),
    (#"{"env":{"":"v"},\#(okTasks)}"#, [#"env."": environment name must match ^[A-Za-z_][A-Za-z0-9_]*$"#]),
]

@Suite struct JobFileValidatorTests {
    @Test func tableHasEnoughCases() {
        #expect(badFiles.count >= 40)
    }

    @Test(arguments: badFiles.indices)
    func badFileReportsExactErrors(_ i: Int) {
        let (text, expected) = badFiles[i]
        #expect(problems(text) == expected, "case \(i): \(text)")
    }

    @Test func invalidUTF8GivesLineAndColumn() {
        let bytes: [UInt8] = Array("{\n \"name\":\"".utf8) + [0xFF] + Array("\"}".utf8)
        let v = JobFileValidator.validate(bytes, context: context())
        #expect(v.problems.map(\.description) == ["line 2, column 10: invalid UTF-8"])
        // An overlong encoding of '/' and a UTF-16 surrogate are invalid too.
        #expect(StrictJSONReader.firstInvalidUTF8([0x22, 0xC0, 0xAF]) == 1)
        #expect(StrictJSONReader.firstInvalidUTF8([0xED, 0xA0, 0x80]) == 0)
        #expect(StrictJSONReader.firstInvalidUTF8(Array("ok é 😀".utf8)) == nil)
    }

    @Test func everyErrorOfAMultiErrorFileIsReported() {
        let text = #"""
        {"policy":"sometimes","max_parallel":2.5,"name":"x","name":"y","bogus":1,"env":{"GATHER_X":"1"},
         "tasks":[{"name":"a","command":[],"retries":-1},
                  {"name":"a","command":["x"],"after":["nope","a"]},
                  {"command":["y"],"timeout":"soon"}]}
        """#
        let found = problems(text)
        let expected = [
            "name: duplicate key (line 1, column 53)",
            #"policy: must be "collect-all", "fail-fast", "cancel-siblings" or "first-success""#,
            "max_parallel: must be an integer of at least 1, not a fraction or exponent",
            "bogus: unknown key",
            "env.GATHER_X: GATHER_* names are set by gatherd",
            "tasks[0].command: must be a non-empty array of strings",
            "tasks[0].retries: must be an integer from 0 to 100",
            #"tasks[2].timeout: must be a duration such as "30s", "1h30m" or a number of seconds"#,
            "tasks[2].name: required",
            #"tasks[1].name: duplicate task name "a""#,
            #"tasks[1].after[0]: unknown task "nope""#,
        ]
        #expect(found == expected)
        let v = JobFileValidator.validate(Array(text.utf8), context: context())
        #expect(v.job == nil)
        #expect(v.errorLine == expected.joined(separator: "; "))
    }

    @Test func retryRulesAndCleanUpTasksAreRead() throws {
        let text = #"""
        {"policy": "first-success", "tasks": [
          {"name": "fetch", "command": ["x"], "retries": 3, "retry_delay": "2s", "retry_delay_max": "5s",
           "retry_exit_codes": [75, 111]},
          {"name": "plain", "command": ["y"]},
          {"name": "unlock", "command": ["z"], "finally": true, "after": ["fetch"]}
        ]}
        """#
        let v = JobFileValidator.validate(Array(text.utf8), context: context())
        #expect(v.problems.isEmpty, "\(v.errorLine)")
        let job = try #require(v.job)
        #expect(job.policy == .firstSuccess)
        #expect(job.tasks[0].retryDelayMax == .seconds(5) && job.tasks[0].retryExitCodes == [75, 111])
        #expect(job.tasks[1].retryDelayMax == .seconds(600) && job.tasks[1].retryExitCodes == nil)
        #expect(job.tasks.map(\.isFinally) == [false, false, true])
    }

    @Test func specExampleIsValidWithItsValues() throws {
        let text = #"""
        {
          "name": "nightly-backup", "policy": "cancel-siblings", "max_parallel": 4, "timeout": "30m",
          "kill_grace": "5s", "env": {"BACKUP_ROOT": "/srv/backup"}, "cwd": "/srv", "restartable": false,
          "tasks": [
            {"name": "dump-db", "command": ["pg_dump", "-f", "db.sql", "app"], "timeout": "10m"},
            {"name": "sync-files", "command": ["rsync", "-a", "/srv/www/", "www/"], "retries": 2, "retry_delay": "5s"},
            {"name": "prune", "command": ["/usr/local/bin/prune-old"], "after": ["dump-db", "sync-files"],
             "success_exit_codes": [0, 3], "env": {"BACKUP_ROOT": "/x"}}
          ]
        }
        """#
        let v = JobFileValidator.validate(Array(text.utf8), context: context())
        #expect(v.problems.isEmpty)
        let job = try #require(v.job)
        #expect(job.policy == .cancelSiblings && job.maxParallel == 4 && job.timeout == .seconds(1800))
        #expect(job.killGrace == .seconds(5) && job.cwd == "/srv" && job.output == .journal)
        #expect(job.tasks.map(\.name) == ["dump-db", "sync-files", "prune"])
        #expect(job.tasks[1].retries == 2 && job.tasks[1].retryDelay == .seconds(5) && job.tasks[0].retryDelay == .seconds(1))
        #expect(job.tasks[2].successExitCodes == [0, 3] && job.tasks[2].after == ["dump-db", "sync-files"])
        #expect(job.environment(of: job.tasks[2]).map(\.value) == ["/x"])
        #expect(v.runAs?.name == "alice")
        // Numbers of seconds are durations too.
        let n = JobFileValidator.validate(Array(#"{"timeout":1.5,\#(okTasks)}"#.utf8), context: context())
        #expect(n.job?.timeout == .milliseconds(1500))
        // 1 ms is the shortest duration; 0 however written is 0.
        let shortest = JobFileValidator.validate(Array(#"{"timeout":"1ms","kill_grace":"0.000s",\#(okTasks)}"#.utf8), context: context())
        #expect(shortest.job?.timeout == .milliseconds(1) && shortest.job?.killGrace == .zero, "\(shortest.errorLine)")
        let zero = JobFileValidator.validate(Array(#"{"kill_grace":-0.0,"timeout":0.001,\#(okTasks)}"#.utf8), context: context())
        #expect(zero.job?.killGrace == .zero && zero.job?.timeout == .milliseconds(1), "\(zero.errorLine)")
    }

    @Test func limitsReadIntoTheJobAndEachTask() throws {
        let text = #"""
        {"memory_max":"2G","cpu_max":"150%","tasks_max":4194304,
         "tasks":[{"name":"a","command":["x"],"memory_max":536870912,"cpu_max":"1%","tasks_max":1},
                  {"name":"b","command":["x"],"memory_max":"1K"},
                  {"name":"c","command":["x"],"memory_max":"4194304T","cpu_max":"100000%"},
                  {"name":"d","command":["x"]}]}
        """#
        let v = JobFileValidator.validate(Array(text.utf8), context: context())
        #expect(v.problems.isEmpty)
        let job = try #require(v.job)
        #expect(job.limits == ResourceLimits(memoryMax: 2 << 30, cpuMax: 150, tasksMax: 4_194_304))
        #expect(job.tasks[0].limits == ResourceLimits(memoryMax: 512 << 20, cpuMax: 1, tasksMax: 1))
        #expect(job.tasks[1].limits == ResourceLimits(memoryMax: 1024))
        #expect(job.tasks[2].limits == ResourceLimits(memoryMax: ResourceLimits.maxSize, cpuMax: 100_000))
        #expect(job.tasks[3].limits.isEmpty)
        // Bytes as plain digits, and the largest size as an integer.
        let digits = JobFileValidator.validate(Array(#"{"memory_max":"1000",\#(okTasks)}"#.utf8), context: context())
        #expect(digits.job?.limits.memoryMax == 1000)
        let largest = JobFileValidator.validate(Array(#"{"memory_max":4611686018427387904,\#(okTasks)}"#.utf8),
                                                context: context())
        #expect(largest.job?.limits.memoryMax == ResourceLimits.maxSize)
        // The cgroup files the limits become: 150% of one CPU is 150 ms per 100 ms period.
        #expect(job.limits.files.map(\.value) == ["2147483648", "150000 100000", "4194304"])
    }

    @Test func everyWrongLimitIsReportedWithItsPath() {
        let text = #"""
        {"memory_max":"lots","cpu_max":"2 CPUs","tasks_max":-1,
         "tasks":[{"name":"a","command":["x"],"memory_max":0,"cpu_max":"0%"},
                  {"name":"b","command":["x"],"tasks_max":"many","memory_max":"8E"}]}
        """#
        #expect(problems(text) == [
            #"memory_max: must be a size like "512M" or a number of bytes"#,
            #"cpu_max: must be a percent of one CPU like "150%""#,
            "tasks_max: must be an integer from 1 to 4194304",
            "tasks[0].memory_max: must be at least 1 byte",
            "tasks[0].cpu_max: must be from 1% to 100000%",
            "tasks[1].tasks_max: must be an integer from 1 to 4194304, found a string",
            #"tasks[1].memory_max: must be a size like "512M" or a number of bytes"#,
        ])
    }

    @Test func userRulesOfSection8() {
        // Root's file may name another user; tasks run as that user.
        let v = JobFileValidator.validate(Array(#"{"user":"bob",\#(okTasks)}"#.utf8), context: context(owner: 0))
        #expect(v.problems.isEmpty && v.runAs?.name == "bob")
        // Naming oneself is fine.
        #expect(problems(#"{"user":"alice",\#(okTasks)}"#).isEmpty)
        // A file owned by a uid with no passwd entry is rejected.
        #expect(problems(#"{\#(okTasks)}"#, context(owner: 4242)) == ["the file owner (uid 4242) has no passwd entry"])
        // Not root: only the daemon's own user's files, and tasks run as it.
        #expect(problems(#"{\#(okTasks)}"#, context(owner: 1000, daemon: 1001))
                == ["owned by uid 1000, but this daemon runs as uid 1001 and takes only its own user's files"])
        let own = JobFileValidator.validate(Array(#"{\#(okTasks)}"#.utf8), context: context(owner: 1001, daemon: 1001))
        #expect(own.problems.isEmpty && own.runAs?.name == "bob")
        #expect(problems(#"{"user":"alice",\#(okTasks)}"#, context(owner: 1001, daemon: 1001))
                == ["user: must be the daemon's user (uid 1001) when the daemon does not run as root"])
    }

    @Test func controlCharactersQuotedFromTheFileAreEscaped() {
        // A task name in `after` with a newline cannot forge a line of gatherd's.
        let forged = problems(#"{"tasks":[{"name":"a","command":["true"],"after":["x\ngatherd ready: spool /x, 0 jobs recovered"]}]}"#)
        #expect(forged == [#"tasks[0].after[0]: unknown task "x\ngatherd ready: spool /x, 0 jobs recovered""#], "\(forged)")
        #expect(forged.allSatisfy { !$0.contains("\n") })
        let key = problems(#"{"k\u001b[31m":1,\#(okTasks)}"#)
        #expect(key == [#"k\u{1B}[31m: unknown key"#], "\(key)")
    }

    @Test func oversizeAndDeepNesting() {
        let big = [UInt8](repeating: 0x20, count: JobFileValidator.maxFileSize + 1)
        #expect(problems(String(decoding: big, as: UTF8.self)) == ["larger than 1 MiB"])
        let deep = String(repeating: "[", count: 300)
        #expect(problems(deep).first?.hasSuffix("nested too deeply") == true)
    }
}
