import Foundation
import GatherJournal
import GatherTestSupport
import Testing

/// journald going away mid-stream loses no entry: each is in the journal or on
/// stderr. `journal-probe --fault` binds a fake journald (a real datagram socket
/// at the journal socket's path, in a private mount namespace), writes 3000
/// numbered entries through a real JournalWriter, and stops reading a quarter
/// of the way so that datagrams wait unread when the socket goes away.
@Suite(.timeLimit(.minutes(1)))
struct SocketLossTests {
    static let count = 3000

    /// What one probe run showed.
    struct Outcome {
        var result: Run.Result
        /// Numbers the fake journald received.
        var received: Set<Int>
        /// Numbers on stderr, replayed or not.
        var onStderr: Set<Int>
        /// Numbers on stderr in a `gatherd: replay:` line.
        var replayedLines: [Int]
        var counts: [String: Int]
        var reboundAt: Int?

        var missing: Set<Int> { Set(0..<SocketLossTests.count).subtracting(received).subtracting(onStderr) }
    }

    static func run(_ fault: String) async throws -> Outcome? {
        guard TestJournald.canRun else { return nil }
        guard let result = try await FallbackTests.probe(["--fault", fault, "--count", "\(count)", "loss-\(fault)"]) else {
            return nil
        }
        var outcome = Outcome(result: result, received: [], onStderr: [], replayedLines: [], counts: [:])
        for line in result.stdoutText.split(separator: "\n") {
            if line.hasPrefix("received=") {
                outcome.received = Set(line.dropFirst("received=".count).split(separator: " ").compactMap { Int($0) })
            } else if line.hasPrefix("rebound-at=") {
                outcome.reboundAt = Int(line.dropFirst("rebound-at=".count))
            } else if line.hasPrefix("usesJournal=") {
                for pair in line.split(separator: " ") {
                    let parts = pair.split(separator: "=")
                    if parts.count == 2, let value = Int(parts[1]) { outcome.counts[String(parts[0])] = value }
                }
            }
        }
        for line in result.stderrText.split(separator: "\n") {
            guard let range = line.range(of: "probe entry "), let number = Int(line[range.upperBound...]) else { continue }
            outcome.onStderr.insert(number)
            if line.hasPrefix("gatherd: replay: ") { outcome.replayedLines.append(number) }
        }
        return outcome
    }

    /// What every fault must show: nothing lost, the replay counted and
    /// marked, and the replay holding entries the fake journald never read
    /// (else the fault did not test anything).
    static func expectNothingLost(_ outcome: Outcome) {
        let output = outcome.result.stdoutText.prefix(300) + "\n" + outcome.result.stderrText.suffix(600)
        #expect(outcome.result.status == 0, "\(output)")
        #expect(outcome.missing.isEmpty, "lost: \(outcome.missing.sorted().prefix(20)) \(output)")
        #expect(outcome.counts["replayed"] == outcome.replayedLines.count, "\(output)")
        #expect(!outcome.replayedLines.isEmpty, "\(output)")
        #expect(!Set(outcome.replayedLines).subtracting(outcome.received).isEmpty,
                "the replay holds no entry the journal lacks: \(output)")
        #expect(outcome.result.stderrText.contains("to stderr again, marked \"replay\""), "\(output)")
    }

    /// The socket file is removed while entries wait unread, then the socket
    /// is closed (journald stopped): libsystemd reports success for every send
    /// after that; the watch sees the removal and the recent entries are replayed.
    @Test func removedSocketReplaysRecentEntries() async throws {
        guard let outcome = try await Self.run("stop") else { return }
        Self.expectNothingLost(outcome)
        #expect(outcome.counts["failures"] == 0, "sends with no socket file report success")
        #expect(outcome.result.stderrText.contains("journal socket /run/systemd/journal/socket went away"))
        #expect(outcome.received.count < Self.count)
    }

    /// The socket is closed with datagrams in its queue and the file stays
    /// (journald killed with SIGKILL): the next send fails, and the entries
    /// sent before it, unread ones included, are replayed.
    @Test func killedJournaldReplaysWhatItHadNotRead() async throws {
        guard let outcome = try await Self.run("kill") else { return }
        Self.expectNothingLost(outcome)
        #expect((outcome.counts["failures"] ?? 0) > 0)
        #expect(outcome.counts["errno"] == Int(ECONNREFUSED))
        #expect(outcome.result.stderrText.contains("sending to the journal failed (Connection refused)"))
    }

    /// The socket comes back (journald started again): every entry written
    /// after it exists goes to the journal, none to stderr.
    @Test func entriesGoToTheJournalAgainWhenTheSocketIsBack() async throws {
        guard let outcome = try await Self.run("restart") else { return }
        Self.expectNothingLost(outcome)
        let reboundAt = try #require(outcome.reboundAt)
        let after = Set(reboundAt..<Self.count)
        #expect(after.isSubset(of: outcome.received), "not received: \(after.subtracting(outcome.received).sorted().prefix(20))")
        #expect(after.isDisjoint(with: outcome.onStderr))
        // Between the removal and the new socket, entries went to stderr only.
        #expect((Self.count / 4..<reboundAt).contains { outcome.onStderr.contains($0) && !outcome.received.contains($0) })
    }
}
