import Gather
import GatherSystem
import Testing
@testable import GatherSpool
#if canImport(Glibc)
import Glibc
#endif

/// `state.log` (docs/state-json.md): the lines a running job appends, read
/// back on top of `state.json` by recovery and `gatherctl status`.
@Suite struct ProgressLogTests {
    private func baseState(tasks: [String]) -> JobStateFile {
        JobStateFile(
            id: "log", file: "log.json", name: "log", policy: .collectAll, uid: 1000, gid: 1000, user: nil, runAs: nil,
            phase: .running, receivedAt: Timestamp(millisecondsSinceEpoch: 1_795_575_600_120), runs: 1,
            tasks: tasks.map { .init(name: $0, status: .waiting) })
    }

    /// A log over a pipe: what the writer appends is read back as written.
    private func withPipeLog(_ body: (ProgressLog, () -> [UInt8]) throws -> Void) throws {
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        let log = ProgressLog(descriptor: fds[1], label: "active/log")
        try body(log) {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fds[0], &buffer, buffer.count)
                if n <= 0 { break }
                bytes += buffer[0..<n]
            }
            return bytes
        }
    }

    @Test func linesApplyToTheStateTheyFollow() throws {
        try withPipeLog { log, written in
            // The child's own line: the prefix completed as CSpawn completes it.
            let prefix = ProgressLog.startedPrefix(index: 1, task: "b \"quoted\"", attempt: 1)
            #expect(String(decoding: prefix, as: UTF8.self) == #"{"event":"started","index":1,"task":"b \"quoted\"","attempt":1,"pgid":"#)
            let childLine = prefix + Array(#"4242,"start_time":777}"#.utf8) + [0x0A]
            log.started(index: 0, task: "a", attempt: 1, pgid: 4000, startTime: 555)
            log.exited(index: 0, task: "a", pgid: 4000)
            log.ended(index: 0, task: "a", status: .ended(.failed), attempts: 1)
            log.started(index: 2, task: "c", attempt: 2, pgid: 4100, startTime: 0)
            log.failing()
            var bytes = written()
            bytes.insert(contentsOf: childLine, at: 0)
            var state = baseState(tasks: ["a", "b \"quoted\"", "c", "d"])
            ProgressLog.apply(bytes, to: &state)
            #expect(state.phase == .failing)
            #expect(state.tasks.map(\.status) == [.ended(.failed), .running, .running, .waiting])
            #expect(state.tasks.map(\.attempts) == [1, 1, 2, 0])
            #expect(state.tasks.map(\.pid) == [nil, 4242, 4100, nil])
            // Only groups whose start time is known can be told from a reused PID.
            #expect(state.processGroups == [.init(task: "b \"quoted\"", pgid: 4242, startTime: 777)])
        }
    }

    @Test func unreadableAndStrayLinesAreSkipped() {
        var state = baseState(tasks: ["a", "b"])
        let text = """
            {"event":"started","index":0,"task":"a","attempt":1,"pgid":10,"start_time":5}
            {"event":"started","index":1,"task":"b","attem
            {"event":"started","index":7,"task":"x","attempt":1,"pgid":11,"start_time":5}
            {"event":"started","index":1,"task":"b","attempt":2,"pgid":12,"start_time":6}
            {"event":"exited","index":1,"task":"b","pgid":99}
            {"event":"exited","index":0,"task":"a","pgid":10}
            not json at all
            {"event":"ended","index":1,"task":"b","status":"paused","attempts":1}

            """
        ProgressLog.apply(Array(text.utf8), to: &state)
        #expect(state.tasks.map(\.status) == [.running, .running])
        // An exit of another group leaves the task's running attempt as it is.
        #expect(state.tasks.map(\.pid) == [nil, 12])
        #expect(state.processGroups.map(\.pgid) == [12])
    }

    /// A write that fails keeps its line and every later one, in order, and
    /// reports the failure once; the retry appends them after a line break
    /// (a line cut short stays one unreadable line).
    @Test func aFailedWriteKeepsItsLinesForTheRetry() throws {
        let full = open("/dev/full", O_WRONLY | O_CLOEXEC)
        try #require(full >= 0)
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        // The log's descriptor is /dev/full until the "disk" has room again.
        let log = ProgressLog(descriptor: full, label: "active/log")
        log.exited(index: 0, task: "a", pgid: 1)
        log.failing()
        let error = try #require(log.takeWriteError())
        #expect(error.code == .recordWrite && error.errno?.rawValue == ENOSPC)
        #expect(error.context == "append active/log/state.log")
        #expect(log.takeWriteError() == nil)
        #expect(throws: SpoolError.self) { try log.retry() }
        // Room again: the kept lines go out, whole and in order.
        try #require(dup2(fds[1], full) == full)
        try log.retry()
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fds[0], &buffer, buffer.count)
        let text = String(decoding: buffer[0..<max(0, n)], as: UTF8.self)
        #expect(text == "\n" + #"{"event":"exited","index":0,"task":"a","pgid":1}"# + "\n" + #"{"event":"failing"}"# + "\n")
    }
}
