import Foundation
import GatherJournal
import GatherTestSupport
import Testing

/// When the journal cannot take an entry, it becomes a readable stderr line and
/// the caller never sees an error.
@Suite(.timeLimit(.minutes(1)))
struct FallbackTests {
    /// Runs `journal-probe` in a private mount namespace whose /run/systemd is an
    /// empty tmpfs: no journal socket, or (with --stale) a socket file nobody holds.
    /// `nil` (with the reason printed) when this machine cannot make a mount namespace.
    static func probe(_ arguments: [String]) async throws -> Run.Result? {
        let probe = Run.buildProductsDirectory + "/journal-probe"
        let command = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                       "mount -t tmpfs tmpfs /run/systemd && exec \"$0\" \"$@\"", probe] + arguments
        // Waited for on a thread of its own: a probe runs for up to seconds, and
        // the cooperative pool (two threads here) is every other test's.
        let result: Run.Result = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try Run.command(command) }) }
        }
        if result.status != 0, result.stderrText.hasPrefix("unshare:") || result.stderrText.hasPrefix("mount:") {
            print("skipped: no private mount namespace here (\(result.stderrText.prefix(200)))")
            return nil
        }
        return result
    }

    @Test func noJournalSocketMeansStderr() async throws {
        guard TestJournald.canRun else { return }
        guard let result = try await Self.probe(["--target", "auto", "fallback-none"]) else { return }
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stdoutText.contains("usesJournal=false sent=0 stderr=2 failures=0"), "\(result.output)")
        #expect(result.stderrText == """
            gatherd: info: job fallback-none started: 1 task, policy collect-all
            gatherd: fallback-none/t1[1] stderr: probe output line

            """)
    }

    @Test func journalTargetWithNoSocketStillReachesStderr() async throws {
        guard TestJournald.canRun else { return }
        // libsystemd drops entries silently with no socket; the writer must notice.
        guard let result = try await Self.probe(["--target", "journal", "fallback-journal"]) else { return }
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stdoutText.contains("usesJournal=true sent=0 stderr=2"), "\(result.output)")
        #expect(result.stderrText.contains("gatherd: info: job fallback-journal started"))
    }

    @Test func staleSocketMeansStderr() async throws {
        guard TestJournald.canRun else { return }
        guard let result = try await Self.probe(["--stale", "--target", "auto", "fallback-stale"]) else { return }
        #expect(result.status == 0, "\(result.output)")
        // The socket file exists, so auto picks the journal; each send fails with ECONNREFUSED.
        #expect(result.stdoutText.contains("usesJournal=true sent=0 stderr=2 failures=2 errno=\(ECONNREFUSED)"), "\(result.output)")
        #expect(result.stderrText.contains("gatherd: info: job fallback-stale started: 1 task, policy collect-all\n"))
        #expect(result.stderrText.contains("gatherd: fallback-stale/t1[1] stderr: probe output line\n"))
    }

    @Test func stderrTargetWritesReadableLines() async throws {
        let pipe = Pipe()
        var configuration = JournalWriter.Configuration(target: .stderr)
        configuration.stderrDescriptor = pipe.fileHandleForWriting.fileDescriptor
        let writer = JournalWriter(configuration: configuration)
        let job = JobIdentity(id: "j1", run: "r", name: "nightly", uid: 0)
        writer.log(.spoolWriteError(job, error: "No space left on device"))
        writer.log(.taskSucceeded(job, task: "t", attempt: 1, elapsed: .seconds(1))) // debug: dropped at info
        let entry = try JournalEntry(["MESSAGE": "two\nlines", "PRIORITY": "4"])
        writer.log(entry)
        // A CRLF is one Character to Swift: escaped all the same.
        writer.log(try JournalEntry(["MESSAGE": "dos\r\nline", "PRIORITY": "4"]))
        writer.flush()
        writer.close()
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text == "gatherd: crit: cannot write record of j1 (nightly): No space left on device; claiming paused\ngatherd: warning: two\\nlines\n"
            + "gatherd: warning: dos\\r\\nline\n")
        #expect(writer.statistics.toStderr == 3)
        #expect(writer.statistics.sent == 0)
    }

    @Test func aFullQueueSendsEventsToStderrAfterTheWait() async throws {
        let pipe = Pipe()
        var configuration = JournalWriter.Configuration(target: .stderr)
        configuration.stderrDescriptor = pipe.fileHandleForWriting.fileDescriptor
        configuration.capacity = 0 // always full: every event waits, then falls back
        configuration.eventWait = .milliseconds(200)
        let writer = JournalWriter(configuration: configuration)
        let start = ContinuousClock.now
        writer.log(.daemonStopping(interrupted: 2))
        let waited = ContinuousClock.now - start
        writer.close()
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text == "gatherd: info: gatherd stopping: 2 jobs interrupted\n")
        #expect(waited >= .milliseconds(200) && waited < .seconds(5))
    }
}
