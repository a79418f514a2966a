import Foundation
@testable import GatherJournal
import GatherSystem
import Testing

/// The writer's view of journald's socket (real inotify, real sockets in a
/// directory of the test's own) and the ring of recent entries it replays.
@Suite(.timeLimit(.minutes(1)))
struct SocketWatchTests {
    /// A fresh directory under /tmp (short: a socket path has at most 107 bytes).
    static func directory() throws -> String {
        let path = "/tmp/gather-sock-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    /// A datagram socket bound at `path`; the caller closes it.
    static func bindSocket(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(fd >= 0 && bound == 0, "bind \(path): errno \(errno)")
        return fd
    }

    static let second: UInt64 = 1_000_000_000

    @Test func removalIsSeenAtOnceAndReturnToo() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/socket"
        let first = try Self.bindSocket(path)
        defer { close(first) }
        let watch = JournalSocketWatch(path: path)
        let now = EventWait.monotonicNanoseconds()
        var status = watch.check(now: now)
        #expect(status.present && !status.lost)
        // Another name in the directory changes nothing.
        #expect(FileManager.default.createFile(atPath: directory + "/stdout", contents: nil))
        status = watch.check(now: now)
        #expect(status.present && !status.lost)

        unlink(path)
        status = watch.check(now: now) // no time passed: only the watch can know
        #expect(!status.present && status.lost)
        status = watch.check(now: now)
        #expect(!status.present && !status.lost, "a loss is reported once")

        let second = try Self.bindSocket(path)
        defer { close(second) }
        status = watch.check(now: now)
        #expect(status.present && !status.lost)

        // Renamed away and back within one look: a loss, and present again.
        rename(path, directory + "/old")
        rename(directory + "/old", path)
        status = watch.check(now: now)
        #expect(status.present && status.lost)
    }

    @Test func withoutTheDirectoryItLooksOnceASecondThenWatches() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/journal/socket"
        let watch = JournalSocketWatch(path: path)
        let start = EventWait.monotonicNanoseconds()
        #expect(!watch.check(now: start).present)

        try FileManager.default.createDirectory(atPath: directory + "/journal", withIntermediateDirectories: false)
        let fd = try Self.bindSocket(path)
        defer { close(fd) }
        #expect(!watch.check(now: start).present, "looked up at most once a second")
        var status = watch.check(now: start + 2 * Self.second)
        #expect(status.present && !status.lost)

        // The directory exists now, so the watch is in place: a removal is seen at once.
        unlink(path)
        status = watch.check(now: start + 2 * Self.second)
        #expect(!status.present && status.lost)

        // The directory removed and made again while the old socket is still
        // open (which keeps the kernel from reporting the removal): the socket
        // is looked up once a second while missing, and the watch renewed.
        #expect(rmdir(directory + "/journal") == 0)
        status = watch.check(now: start + 2 * Self.second)
        #expect(!status.present)
        try FileManager.default.createDirectory(atPath: directory + "/journal", withIntermediateDirectories: false)
        let again = try Self.bindSocket(path)
        defer { close(again) }
        status = watch.check(now: start + 4 * Self.second)
        #expect(status.present && !status.lost)
        unlink(path)
        #expect(watch.check(now: start + 4 * Self.second).lost)
    }

    static func entry(_ number: Int, bytes: Int = 0) throws -> JournalEntry {
        try JournalEntry(["MESSAGE": "entry \(number)", "PAD": String(repeating: "x", count: bytes)])
    }

    @Test func recentEntriesAreBoundedByAgeCountAndBytes() throws {
        var ring = RecentEntries(limits: .init(age: 5 * Self.second, count: 3, bytes: 1 << 20))
        for number in 0..<5 { ring.append(try Self.entry(number), isOutput: false, sentAt: UInt64(number)) }
        #expect(ring.count == 3)
        #expect(ring.removeAll().map(\.entry.message) == ["entry 2", "entry 3", "entry 4"])
        #expect(ring.isEmpty && ring.bytes == 0)

        ring = RecentEntries(limits: .init(age: 5 * Self.second, count: 100, bytes: 2500))
        for number in 0..<3 { ring.append(try Self.entry(number, bytes: 1000), isOutput: true, sentAt: 0) }
        #expect(ring.count == 2 && ring.bytes <= 2500)

        ring = RecentEntries(limits: .init(age: 5 * Self.second, count: 100, bytes: 1 << 20))
        ring.append(try Self.entry(0), isOutput: false, sentAt: 1 * Self.second)
        ring.append(try Self.entry(1), isOutput: false, sentAt: 3 * Self.second)
        ring.prune(now: 7 * Self.second)
        #expect(ring.count == 1)
        ring.prune(now: 9 * Self.second)
        #expect(ring.isEmpty)

        // Many appends and prunes keep the live part in order (the compaction).
        for number in 0..<5000 {
            ring.append(try Self.entry(number), isOutput: false, sentAt: UInt64(number) * Self.second / 1000)
            ring.prune(now: UInt64(number) * Self.second / 1000)
        }
        #expect(ring.removeAll().map(\.entry.message) == (0..<100).map { "entry \(4900 + $0)" })
    }
}
