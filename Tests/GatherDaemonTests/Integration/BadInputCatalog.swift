import Foundation
import GatherTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// One kind of bad input a user may drop into `incoming/`, and the text its
/// rejection must name (SPEC §3, §4, §8).
struct BadInput: Sendable {
    /// What is wrong; also the last part of the job ID.
    let kind: String
    /// Distinctive parts of the record's `error`, each with its key path where there is one.
    let expected: [String]
    /// Puts the input into `incoming/` and returns the ID it must be rejected under.
    let drop: @Sendable (DaemonHarness, String) throws -> String

    /// A job file with this JSON text.
    static func json(_ kind: String, _ expected: String..., text: String) -> BadInput {
        BadInput(kind: kind, expected: expected) { harness, id in try harness.drop(id, text) }
    }

    /// A job file with these bytes.
    static func bytes(_ kind: String, _ expected: String..., bytes: [UInt8]) -> BadInput {
        BadInput(kind: kind, expected: expected) { harness, id in
            try harness.dropRaw(name: Array("\(id).json".utf8), bytes)
            return id
        }
    }

    /// A valid task, for files that are wrong elsewhere.
    static let task = #"{"name": "t", "command": ["true"]}"#
    static let valid = #"{"tasks": [\#(task)]}"#

    /// The file-content kinds: syntax, keys, types, ranges and the graph.
    static let content: [BadInput] = [
        .json("malformed", "line 3, column 5", text: "{\n  \"tasks\": [\n    }\n]}"),
        .json("empty-file", "expected a value, found end of file", text: ""),
        .json("top-level-array", "must be a JSON object, found an array", text: "[\(task)]"),
        .json("unknown-key", "polcy: unknown key", text: #"{"polcy": "fail-fast", "tasks": [\#(task)]}"#),
        .json("duplicate-key", "tasks[0].name: duplicate key",
              text: #"{"tasks": [{"name": "a", "name": "b", "command": ["true"]}]}"#),
        .json("integer-4.0", "max_parallel: must be an integer of at least 1, not a fraction or exponent",
              text: #"{"max_parallel": 4.0, "tasks": [\#(task)]}"#),
        .json("integer-1e2", "tasks[0].retries: must be an integer from 0 to 100, not a fraction or exponent",
              text: #"{"tasks": [{"name": "a", "command": ["true"], "retries": 1e2}]}"#),
        .json("integer-string", "max_parallel: must be an integer of at least 1, found a string",
              text: #"{"max_parallel": "4", "tasks": [\#(task)]}"#),
        .json("missing-tasks", "tasks: required", text: #"{"name": "no tasks"}"#),
        .json("empty-tasks", "tasks: must be an array of 1 to 10000 tasks", text: #"{"tasks": []}"#),
        .json("10001-tasks", "tasks: must be an array of 1 to 10000 tasks",
              text: #"{"tasks": ["# + (0...10000).map { #"{"name": "t\#($0)", "command": ["true"]}"# }.joined(separator: ",") + "]}"),
        .json("task-not-object", "tasks[0]: must be an object, found a string", text: #"{"tasks": ["true"]}"#),
        .json("missing-command", "tasks[0].command: required", text: #"{"tasks": [{"name": "a"}]}"#),
        .json("empty-command", "tasks[0].command: must be a non-empty array of strings",
              text: #"{"tasks": [{"name": "a", "command": []}]}"#),
        .json("nul-in-command", "tasks[0].command[1]: must not contain NUL",
              text: #"{"tasks": [{"name": "a", "command": ["echo", "a\u0000b"]}]}"#),
        .json("bad-task-name", "tasks[0].name: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
              text: #"{"tasks": [{"name": "-a", "command": ["true"]}]}"#),
        .json("duplicate-task-names", #"tasks[1].name: duplicate task name "a""#,
              text: #"{"tasks": [{"name": "a", "command": ["true"]}, {"name": "a", "command": ["true"]}]}"#),
        .json("unknown-after", #"tasks[0].after[0]: unknown task "zz""#,
              text: #"{"tasks": [{"name": "a", "command": ["true"], "after": ["zz"]}]}"#),
        .json("cycle", "].after: dependency cycle: ",
              text: #"{"tasks": [{"name": "a", "command": ["true"], "after": ["b"]}, {"name": "b", "command": ["true"], "after": ["a"]}]}"#),
        .json("bad-policy", #"policy: must be "collect-all", "fail-fast", "cancel-siblings" or "first-success""#,
              text: #"{"policy": "fail-slow", "tasks": [\#(task)]}"#),
        .json("finally-in-after", #"tasks[1].after[0]: "unlock" is a finally task, which no task can wait for"#,
              text: #"{"tasks": [{"name": "unlock", "command": ["true"], "finally": true}, {"name": "b", "command": ["true"], "after": ["unlock"]}]}"#),
        .json("bad-retry-exit-code", "tasks[0].retry_exit_codes[0]: must be an integer from 0 to 255",
              text: #"{"tasks": [{"name": "a", "command": ["true"], "retries": 1, "retry_exit_codes": [256]}]}"#),
        .json("bad-duration", "timeout: must be a duration", text: #"{"timeout": "5 minutes", "tasks": [\#(task)]}"#),
        .json("zero-timeout", "tasks[0].timeout: must be more than 0",
              text: #"{"tasks": [{"name": "a", "command": ["true"], "timeout": "0s"}]}"#),
        .json("kill-grace-6m", "kill_grace: must be at most 5m", text: #"{"kill_grace": "6m", "tasks": [\#(task)]}"#),
        .json("max-parallel-0", "max_parallel: must be an integer of at least 1", text: #"{"max_parallel": 0, "tasks": [\#(task)]}"#),
        .json("bad-env-key", "env.1X: environment name must match", text: #"{"env": {"1X": "y"}, "tasks": [\#(task)]}"#),
        .json("gather-env-key", "tasks[0].env.GATHER_JOB: GATHER_* names are set by gatherd",
              text: #"{"tasks": [{"name": "a", "command": ["true"], "env": {"GATHER_JOB": "x"}}]}"#),
        .json("relative-cwd", "cwd: must be an absolute path", text: #"{"cwd": "srv", "tasks": [\#(task)]}"#),
        .json("bad-output", #"output: must be "journal" or "discard""#, text: #"{"output": "file", "tasks": [\#(task)]}"#),
        .json("retries-101", "tasks[0].retries: must be an integer from 0 to 100",
              text: #"{"tasks": [{"name": "a", "command": ["true"], "retries": 101}]}"#),
        .json("exit-code-256", "tasks[0].success_exit_codes[1]: must be an integer from 0 to 255",
              text: #"{"tasks": [{"name": "a", "command": ["true"], "success_exit_codes": [0, 256]}]}"#),
        .json("control-in-name", "name: must not contain control characters", text: #"{"name": "a\u0007b", "tasks": [\#(task)]}"#),
        .json("no-such-user", #"user: no such user "no-such-user-gatherd""#,
              text: #"{"user": "no-such-user-gatherd", "tasks": [\#(task)]}"#),
        // Every problem of a file is reported, not only the first.
        .json("three-errors", "policy: must be", "tasks[0].command: required", "tasks[1].retries: must be an integer",
              text: #"{"policy": "x", "tasks": [{"name": "a"}, {"name": "b", "command": ["true"], "retries": -1}]}"#),
        .bytes("non-utf8", "line 2, column 13: invalid UTF-8",
               bytes: Array("{\"tasks\": [\n {\"name\": \"a".utf8) + [0xFF, 0xFE] + Array("\", \"command\": [\"true\"]}]}".utf8)),
        .bytes("2mib", "the file is larger than 1 MiB",
               bytes: Array(#"{"tasks": [\#(task)], "name": ""#.utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 2 << 20) + Array(#""}"#.utf8)),
    ]
}

extension BadInput {
    /// The kinds that are about the file rather than its text: its type, links,
    /// mode, owner and name (SPEC §3, §8). Made straight in `incoming/`, so the
    /// watcher sees a bare `IN_CREATE` for the non-regular ones.
    static let files: [BadInput] = [
        BadInput(kind: "symlink", expected: ["the file is a symbolic link"]) { harness, id in
            // It points at a valid job: following it would run that job.
            let target = harness.spool + "/outside-\(id).json"
            try Data(valid.utf8).write(to: URL(fileURLWithPath: target))
            try check(symlink(target, harness.incoming(id)), "symlink")
            return id
        },
        BadInput(kind: "fifo", expected: ["the file is a FIFO"]) { harness, id in
            try check(mkfifo(harness.incoming(id), 0o644), "mkfifo")
            return id
        },
        BadInput(kind: "directory", expected: ["the file is a directory"]) { harness, id in
            try check(mkdir(harness.incoming(id), 0o755), "mkdir")
            // A link inside must never be followed when the directory is moved.
            try check(symlink("/etc/passwd", harness.incoming(id) + "/job.json"), "symlink")
            return id
        },
        BadInput(kind: "hard-link", expected: ["the file has 2 links (a hard link)"]) { harness, id in
            let other = harness.spool + "/outside-\(id).json"
            try Data(valid.utf8).write(to: URL(fileURLWithPath: other))
            try check(link(other, harness.incoming(id)), "link")
            return id
        },
        BadInput(kind: "socket", expected: ["the file is a socket"]) { harness, id in
            try bindSocket(at: harness.incoming(id))
            return id
        },
        BadInput(kind: "world-writable", expected: ["the file is writable by group or others"]) { harness, id in
            try harness.drop(id, valid, mode: 0o666)
        },
        BadInput(kind: "owner-without-passwd", expected: ["the file owner (uid 4242424) has no passwd entry"]) { harness, id in
            try harness.drop(id, valid, owner: 4_242_424, group: 4_242_424)
        },
        BadInput(kind: "user-of-other-owner", expected: ["user: must be the file owner (nobody) unless the file is owned by root"]) { harness, id in
            try harness.drop(id, #"{"user": "root", "tasks": [\#(task)]}"#, owner: 65534, group: 65534)
        },
        BadInput(kind: "bad-file-name", expected: ["file name must match ^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}\\.json$"]) { harness, id in
            // "-ID-bad name!" → first byte "x", space and "!" → "_".
            try harness.dropRaw(name: Array("-\(id) name!.json".utf8), Array(valid.utf8))
            return "x" + id + "_name_"
        },
        BadInput(kind: "non-utf8-file-name", expected: ["file name must match"]) { harness, id in
            try harness.dropRaw(name: Array(id.utf8) + [0xFF, 0xC0] + Array(".json".utf8), Array(valid.utf8))
            return id + "__"
        },
        BadInput(kind: "newline-in-file-name", expected: ["file name must match"]) { harness, id in
            try harness.dropRaw(name: Array("\(id)\nx.json".utf8), Array(valid.utf8))
            return id + "_x"
        },
        BadInput(kind: "long-file-name", expected: ["file name must match"]) { harness, id in
            // A 200-byte stem: the ID is its first 100 bytes.
            let stem = id + "-" + String(repeating: "a", count: 200 - id.utf8.count - 1)
            try harness.dropRaw(name: Array("\(stem).json".utf8), Array(valid.utf8))
            return String(stem.prefix(100))
        },
    ]

    private static func check(_ result: Int32, _ what: String) throws {
        guard result == 0 else { throw FixtureError(what: what, output: String(cString: strerror(errno))) }
    }

    /// Leaves a Unix socket file at `path` (bound, then closed).
    private static func bindSocket(at path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw FixtureError(what: "bind", output: "path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try check(bound, "bind \(path)")
    }
}

extension DaemonHarness {
    /// `incoming/ID.json`.
    func incoming(_ id: String) -> String { "\(spool)/incoming/\(id).json" }
}
