import Foundation
import Testing
import GatherSystem
@testable import GatherDaemon

@Suite("Spool watcher: lost events become a rescan", .timeLimit(.minutes(2)))
struct WatcherOverflowTests {
    @Test("an inotify queue overflow is delivered as .rescan, and watching goes on")
    func kernelQueueOverflow() async throws {
        let text = try String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8)
        let limit = try #require(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        // Each file written in place is two events (IN_CREATE, IN_CLOSE_WRITE).
        let files = limit / 2 + 64
        guard files <= 100_000 else {
            print("skipped: max_queued_events is \(limit), too many files to flood quickly;"
                + " the decode test covers an IN_Q_OVERFLOW record")
            return
        }
        let spool = try TemporarySpool()
        // The watches exist from init; the thread does not read until start(),
        // so the kernel queue fills exactly as behind a stalled reader.
        let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
        for index in 0..<files {
            let fd = open(spool.incoming + "/flood-\(index).txt", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
            try #require(fd >= 0)
            close(fd)
        }
        try watcher.start()
        // The .txt names are ignored; the overflow shows as one .rescan. Only
        // once it is read is the kernel queue drained: a drop before that could
        // itself be lost to the overflow (the rescan would find it).
        var iterator = watcher.events.makeAsyncIterator()
        #expect(await iterator.next() == .rescan)
        try spool.drop("after.json", into: spool.incoming)
        #expect(await iterator.next() == .incoming(name: "after.json", kind: .renamedIn))
        watcher.stop()
    }

    @Test("a full stream buffer drops events and then delivers one .rescan")
    func streamBufferFull() async throws {
        let spool = try TemporarySpool()
        let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel, bufferLimit: 4)
        try watcher.start()
        for index in 0..<10 { try spool.drop("job-\(index).json", into: spool.incoming) }
        // Nobody reads yet: give the thread time to fill the buffer and drop.
        try await Task.sleep(for: .milliseconds(300))
        var iterator = watcher.events.makeAsyncIterator()
        var first: [SpoolEvent] = []
        for _ in 0..<5 { first.append(try #require(await iterator.next())) }
        #expect(first == (0..<4).map { .incoming(name: SpoolEntryName("job-\($0).json"), kind: .renamedIn) } + [.rescan])
        try spool.drop("later.json", into: spool.incoming)
        #expect(await iterator.next() == .incoming(name: "later.json", kind: .renamedIn))
        watcher.stop()
    }

    @Test("records decode by hand: padding, empty names, overflow, truncated tail")
    func decodeSyntheticBuffer() {
        let records = [
            InotifyRecord(watch: 1, mask: UInt32(IN_MOVED_TO), cookie: 77, name: Array("a.json".utf8)),
            InotifyRecord(watch: -1, mask: UInt32(IN_Q_OVERFLOW), cookie: 0, name: []),
            InotifyRecord(watch: 2, mask: UInt32(IN_CREATE | IN_ISDIR), cookie: 0,
                          name: Array(String(repeating: "x", count: 255).utf8)),
            InotifyRecord(watch: 1, mask: UInt32(IN_CLOSE_WRITE), cookie: 0, name: Array("abc".utf8)),
        ]
        let bytes = InotifyRecord.encode(records)
        #expect(bytes.count == 4 * 16 + 8 + 0 + 256 + 4)
        let decoded = bytes.withUnsafeBytes { InotifyRecord.decode($0) }
        #expect(decoded == records)
        // A record cut short (header or name) is not read past the end.
        let cut = Array(bytes.dropLast(2))
        #expect(cut.withUnsafeBytes { InotifyRecord.decode($0) } == Array(records.dropLast()))
        let headerOnly = Array(bytes.prefix(10))
        #expect(headerOnly.withUnsafeBytes { InotifyRecord.decode($0) }.isEmpty)
    }
}
