import Foundation
import Testing
@testable import GatherDaemon

/// Signal dispositions are process-wide: these tests run one at a time, send
/// signals only while a handler is installed, and check that the previous
/// dispositions come back.
@Suite("Signal events", .serialized, .timeLimit(.minutes(1)))
struct SignalEventsTests {
    @Test("SIGHUP sent to the process arrives as .hangup; stop() restores the old action")
    func hangup() async throws {
        let before = disposition(SIGHUP)
        let signals = try SignalEvents()
        #expect(disposition(SIGHUP) != before)
        kill(getpid(), SIGHUP)
        let events = await collect(signals.events) { !$0.isEmpty }
        #expect(events == [.hangup])
        signals.stop()
        #expect(disposition(SIGHUP) == before)
    }

    @Test("SIGTERM and SIGINT arrive in the order sent")
    func terminateAndInterrupt() async throws {
        let signals = try SignalEvents()
        defer { signals.stop() }
        var iterator = signals.events.makeAsyncIterator()
        kill(getpid(), SIGTERM)
        #expect(await iterator.next() == .terminate)
        kill(getpid(), SIGINT)
        #expect(await iterator.next() == .interrupt)
        kill(getpid(), SIGHUP)
        #expect(await iterator.next() == .hangup)
    }

    @Test("one source at a time; a new one works after stop()")
    func oneAtATime() async throws {
        let first = try SignalEvents([.hangup])
        let error = #expect(throws: EventSourceError.self) { _ = try SignalEvents([.hangup]) }
        #expect(error?.code == .signalSetup)
        first.stop()
        var ended = first.events.makeAsyncIterator()
        #expect(await ended.next() == nil)
        let second = try SignalEvents([.hangup])
        defer { second.stop() }
        var iterator = second.events.makeAsyncIterator()
        kill(getpid(), SIGHUP)
        #expect(await iterator.next() == .hangup)
    }

    @Test("a broken pipe is EPIPE, and children start with default dispositions")
    func brokenPipeAndChildren() throws {
        let signals = try SignalEvents()
        defer { signals.stop() }
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        close(fds[0])
        var byte: UInt8 = 1
        let written = write(fds[1], &byte, 1)
        let code = errno
        close(fds[1])
        #expect(written == -1 && code == EPIPE)

        // The parent catches SIGPIPE, SIGHUP, SIGINT, SIGTERM; a child must
        // neither ignore nor catch any of them after execve.
        let parent = try signalMasks(of: "/proc/self/status")
        let child = try signalMasks(of: try runChild("/bin/cat", "/proc/self/status"))
        let ours: UInt64 = [SIGHUP, SIGINT, SIGPIPE, SIGTERM].reduce(0) { $0 | (1 << UInt64($1 - 1)) }
        #expect(parent.caught & ours == ours)
        #expect(child.ignored & ours == 0)
        #expect(child.caught & ours == 0)
    }
}

/// The raw bytes of a signal's current handler, to compare before and after.
private func disposition(_ signal: Int32) -> [UInt8] {
    var action = sigaction()
    sigaction(signal, nil, &action)
    return withUnsafeBytes(of: action.__sigaction_handler) { Array($0) }
}

/// SigIgn and SigCgt from a `/proc/PID/status` text (or a path to one).
private func signalMasks(of source: String) throws -> (ignored: UInt64, caught: UInt64) {
    let text = source.hasPrefix("/") ? try String(contentsOfFile: source, encoding: .utf8) : source
    func mask(_ key: String) throws -> UInt64 {
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(key + ":") })
        return try #require(UInt64(line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces), radix: 16))
    }
    return (try mask("SigIgn"), try mask("SigCgt"))
}

/// Runs a program with plain `posix_spawn` (no attributes that would reset
/// signals) and returns its standard output.
private func runChild(_ arguments: String...) throws -> String {
    var fds: [Int32] = [0, 0]
    try #require(pipe(&fds) == 0)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_addclose(&actions, fds[0])
    let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
    close(fds[1])
    try #require(spawned == 0)
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(fds[0], &chunk, chunk.count)
        if count <= 0 { break }
        output += chunk[..<count]
    }
    close(fds[0])
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return String(decoding: output, as: UTF8.self)
}
