import GatherProcess
import Glibc
import Testing

/// Checks that run in a helper process: they change process-wide state
/// (signal mask, SIGPIPE, file limit, subreaper) or measure its memory.
@Suite("In a helper process", .serialized, .timeLimit(.minutes(2)))
struct HelperProcessTests {
    @Test("the child has default signal dispositions, an empty mask, fds 0-2 only and the original file limit")
    func childState() async throws {
        let result = try await Support.runHelper(["spawn-check"])
        #expect(result.status == .exited(0))
        let lines = result.lines
        // The parent ignored SIGPIPE and SIGUSR2 and blocked TERM, USR1, HUP, INT, CHLD.
        #expect(lines.contains("status:SigBlk: 0000000000000000"))
        #expect(lines.contains("status:SigIgn: 0000000000000000"))
        #expect(lines.contains("status:SigCgt: 0000000000000000"))
        #expect(result.values["report:fds"] == "0,1,2")
        #expect(result.values["report:umask"] == "22")
        #expect(result.values["parent-original-nofile"] == "1024")
        #expect(result.values["parent-raised-nofile"] != "1024", "the helper raised its own limit")
        #expect(result.values["report:nofile"] == "1024", "the task gets the original soft limit")
        let env = lines.filter { $0.hasPrefix("report:env=") }.map { String($0.dropFirst("report:env=".count)) }
        #expect(env == ["A=1", "PATH=/bin", "B=two words"], "exactly the given environment, in order")
    }

    @Test("a 200 MB flood on stdout leaves memory bounded", arguments: ["lines", "raw"])
    func floodStdout(kind: String) async throws {
        let result = try await Support.runHelper(["flood", "stdout", "200000000", kind])
        #expect(result.status == .exited(0))
        // The flood's own shell pipeline ended on its own, not stopped.
        #expect(result.lines.contains("status=exited with status 0"), "\(result.lines.prefix(3))")
        let bytes = try #require(result.values["bytes"].flatMap(Int.init))
        // Every byte but the newlines arrives; raw zeros have none but the last line's.
        #expect(bytes >= (kind == "raw" ? 200_000_007 : 190_000_000))
        #expect(try #require(result.values["longest"].flatMap(Int.init)) <= 65536)
        let before = try #require(result.values["rss_before_kb"].flatMap(Int.init))
        let peak = try #require(result.values["hwm_kb"].flatMap(Int.init))
        #expect(peak - before < 32 * 1024, "peak RSS grew by \(peak - before) KiB")
        print("200 MB flood on stdout (\(kind)): \(bytes) bytes read, peak RSS grew by \(peak - before) KiB")
    }

    @Test("a 200 MB flood on stderr keeps a correct tail and bounded memory")
    func floodStderr() async throws {
        let result = try await Support.runHelper(["flood", "stderr", "200000000", "lines"])
        #expect(result.values["tail_bytes"] == "4096")
        #expect(result.values["tail_ends_right"] == "true")
        let before = try #require(result.values["rss_before_kb"].flatMap(Int.init))
        let peak = try #require(result.values["hwm_kb"].flatMap(Int.init))
        #expect(peak - before < 32 * 1024, "peak RSS grew by \(peak - before) KiB")
        print("200 MB flood on stderr: peak RSS grew by \(peak - before) KiB, tail \(result.values["tail_bytes"] ?? "?") bytes")
    }

    @Test("as a subreaper, a descendant that left the task's group is reaped when it ends")
    func subreaper() async throws {
        let result = try await Support.runHelper(["subreaper"])
        #expect(result.values["orphan_ppid"] == result.values["me"], "reparented to the subreaper")
        #expect(result.values["orphan_gone"] == "true", "reaped, not left a zombie")
        // The reaper never takes a task's exit status from the launcher.
        #expect(result.values["own_exited_0"] == "300")
    }
}
