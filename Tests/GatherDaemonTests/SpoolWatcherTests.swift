import Foundation
import Testing
@testable import GatherDaemon

@Suite("Spool watcher", .timeLimit(.minutes(1)))
struct SpoolWatcherTests {
    @Test("a file renamed into incoming/ is reported as renamed in")
    func renamedIn() async throws {
        let spool = try TemporarySpool()
        let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
        try watcher.start()
        try spool.drop("nightly.json", into: spool.incoming)
        let events = await collect(watcher.events) { $0.count >= 1 }
        #expect(events == [.incoming(name: "nightly.json", kind: .renamedIn)])
    }

    @Test("a file written in place is reported once closed, not when created")
    func closedAfterWrite() async throws {
        let spool = try TemporarySpool()
        let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
        try watcher.start()
        spool.write("inplace.json", in: spool.incoming)
        try spool.drop("marker.json", into: spool.incoming)
        let events = await collect(watcher.events) { $0.last?.name == "marker.json" }
        #expect(events == [
            .incoming(name: "inplace.json", kind: .closedAfterWrite),
            .incoming(name: "marker.json", kind: .renamedIn),
        ])
    }

    @Test("dotfiles and names not ending in .json are left alone")
    func ignoredNames() async throws {
        let spool = try TemporarySpool()
        let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
        try watcher.start()
        try spool.drop(".hidden.json", into: spool.incoming)
        try spool.drop(".json", into: spool.incoming)
        try spool.drop("notes.txt", into: spool.incoming)
        try spool.drop("job.json.tmp", into: spool.incoming)
        spool.write(".job.tmp", in: spool.incoming)
        #expect(rename(spool.incoming + "/.job.tmp", spool.incoming + "/renamed.JSON") == 0)
        #expect(mkfifo(spool.incoming + "/.fifo.json", 0o600) == 0)
        #expect(symlink("/etc/passwd", spool.incoming + "/link.txt") == 0)
        spool.write(".cancel-tmp", in: spool.cancel)
        try spool.drop("good.json", into: spool.incoming)
        spool.write("job-7", in: spool.cancel)
        let events = await collect(watcher.events) { $0.last == .cancelRequest(name: "job-7") }
        #expect(events == [
            .incoming(name: "good.json", kind: .renamedIn),
            .cancelRequest(name: "job-7"),
        ])
    }

    @Test("symlink, FIFO, directory, socket and hard link are reported at once as non-regular")
    func nonRegularEntries() async throws {
        let spool = try TemporarySpool()
        let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
        try watcher.start()
        let started = ContinuousClock.now
        #expect(symlink("/etc/shadow", spool.incoming + "/symlink.json") == 0)
        #expect(mkfifo(spool.incoming + "/fifo.json", 0o644) == 0)
        #expect(mkdir(spool.incoming + "/directory.json", 0o755) == 0)
        let socketFd = try bindUnixSocket(at: spool.incoming + "/socket.json")
        defer { close(socketFd) }
        spool.write("original", in: spool.staging)
        #expect(link(spool.staging + "/original", spool.incoming + "/hardlink.json") == 0)
        #expect(symlink("/etc/shadow", spool.cancel + "/job-9") == 0)
        let events = await collect(watcher.events) { $0.count >= 6 }
        let elapsed = ContinuousClock.now - started
        let expected: Set<SpoolEvent> = [
            .incoming(name: "symlink.json", kind: .createdNonRegular),
            .incoming(name: "fifo.json", kind: .createdNonRegular),
            .incoming(name: "directory.json", kind: .createdNonRegular),
            .incoming(name: "socket.json", kind: .createdNonRegular),
            .incoming(name: "hardlink.json", kind: .createdNonRegular),
            .cancelRequest(name: "job-9"),
        ]
        #expect(Set(events) == expected)
        #expect(events.count == 6)
        // "At once": no scan or timer involved; a generous bound for a busy machine.
        #expect(elapsed < .seconds(10))
    }

    @Test("a cancel file renamed into cancel/ is a cancel request")
    func cancelRequest() async throws {
        let spool = try TemporarySpool()
        let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
        try watcher.start()
        try spool.drop("backup-2026", into: spool.cancel, content: "")
        let events = await collect(watcher.events) { $0.count >= 1 }
        #expect(events == [.cancelRequest(name: "backup-2026")])
    }

    @Test("a name that is not UTF-8 keeps its bytes")
    func rawName() async throws {
        let spool = try TemporarySpool()
        let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
        try watcher.start()
        let bytes: [UInt8] = [0x6A, 0xFF, 0xFE] + Array(".json".utf8)
        let path = Array(spool.incoming.utf8) + [0x2F] + bytes
        let fd = (path.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
            open($0.baseAddress!, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
        }
        #expect(fd >= 0)
        close(fd)
        let events = await collect(watcher.events) { $0.count >= 1 }
        let name = SpoolEntryName(bytes: bytes)
        #expect(events == [.incoming(name: name, kind: .closedAfterWrite)])
        #expect(name.string == nil)
        #expect(name.isClaimableJobFile)
    }

    @Test("stop() ends the stream promptly, started or not")
    func stopEndsStream() async throws {
        let spool = try TemporarySpool()
        let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
        try watcher.start()
        let ended = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in watcher.events {}
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(50))
                watcher.stop()
                try? await Task.sleep(for: .seconds(5))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(ended)
        #expect(watcher.failure == nil)
        // Starting after stop is refused; stopping again is harmless.
        #expect(throws: EventSourceError.self) { try watcher.start() }
        watcher.stop()

        let unstarted = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
        unstarted.stop()
        var iterator = unstarted.events.makeAsyncIterator()
        #expect(await iterator.next() == nil)
    }

    @Test("losing a watched directory ends the stream with a failure")
    func watchRemoved() async throws {
        let spool = try TemporarySpool()
        let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
        try watcher.start()
        #expect(rename(spool.incoming, spool.root + "/moved-away") == 0)
        let events = await collect(watcher.events) { _ in false }
        #expect(events.isEmpty)
        let failure = try #require(watcher.failure)
        #expect(failure.code == .watchRemoved)
        #expect(failure.description == "spool watcher: watch removed from \(spool.incoming)")
    }

    @Test("setting up a watch on a missing directory fails clearly")
    func missingDirectory() throws {
        let spool = try TemporarySpool()
        let error = #expect(throws: EventSourceError.self) {
            _ = try SpoolWatcher(incoming: spool.root + "/nope", cancel: spool.cancel)
        }
        #expect(error?.code == .watchSetup)
        #expect(error?.description == "spool watcher: cannot watch \(spool.root)/nope: No such file or directory")
    }

    @Test("a symlinked directory is refused, never followed")
    func symlinkedDirectory() throws {
        let spool = try TemporarySpool()
        #expect(symlink(spool.staging, spool.root + "/linked") == 0)
        let error = #expect(throws: EventSourceError.self) {
            _ = try SpoolWatcher(incoming: spool.root + "/linked", cancel: spool.cancel)
        }
        #expect(error?.code == .watchSetup)
        // open(O_DIRECTORY|O_NOFOLLOW) on a symlink says ENOTDIR (ELOOP without O_DIRECTORY).
        #expect([ELOOP, ENOTDIR].contains(error?.errno?.rawValue ?? 0))
    }
}

/// Binds an AF_UNIX stream socket at `path`, creating a socket inode there.
func bindUnixSocket(at path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    try #require(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    try #require(result == 0, "bind: \(String(cString: strerror(errno)))")
    return fd
}
