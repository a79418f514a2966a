import Foundation
import GatherSystem
import Testing
@testable import GatherSpool

/// Whether a gatherd serves a spool, from its `flock` (SPEC §10): the answer
/// follows the lock, and asking never takes the lock from a daemon that starts.
@Suite("daemon presence", .timeLimit(.minutes(1)))
struct SpoolDaemonProbeTests {
    @Test func theAnswerFollowsTheDaemonsLock() throws {
        let test = try TestSpool()
        let reader = try SpoolReader(path: test.path)
        #expect(reader.daemonPresence() == .absent)
        do {
            let daemon = try test.reopen()
            try daemon.lockForDaemon(patience: .zero)
            #expect(reader.daemonPresence() == .serving(pid: getpid()))
        }
        // The daemon's descriptor is closed: the lock is gone with it.
        #expect(reader.daemonPresence() == .absent)
    }

    @Test func anotherSpoolsLockIsNotThisSpools() throws {
        let first = try TestSpool()
        let second = try TestSpool()
        try first.spool.lockForDaemon(patience: .zero)
        #expect(try SpoolReader(path: first.path).daemonPresence().isServing)
        #expect(try SpoolReader(path: second.path).daemonPresence() == .absent)
    }

    @Test func onlyGrantedExclusiveFlocksCount() {
        let table = """
            1: FLOCK  ADVISORY  WRITE 13285 fe:00:16220554 0 EOF
            1: -> FLOCK  ADVISORY  WRITE 13290 fe:00:16220554 0 EOF
            2: POSIX  ADVISORY  WRITE 8935 fe:00:5333468 1073741824 1073742335
            3: FLOCK  ADVISORY  READ 77 fe:00:99 0 EOF
            4: FLOCK  ADVISORY  WRITE -1 103:0a:42 0 EOF
            """
        #expect(SpoolReader.exclusiveFlocks(in: table) == [
            .init(pid: 13285, major: 0xfe, minor: 0, inode: 16_220_554),
            .init(pid: nil, major: 0x103, minor: 0x0a, inode: 42),
        ])
    }

    /// A daemon that starts while gatherctl asks, again and again, gets its
    /// lock at the first try every time: the probe reads /proc/locks and
    /// never holds the lock itself.
    @Test func probingNeverKeepsADaemonFromItsLock() async throws {
        let test = try TestSpool()
        let reader = try SpoolReader(path: test.path)
        let path = test.path
        let failures = await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            // Both loops block: threads of their own, not the cooperative pool.
            Thread.detachNewThread {
                let stop = Atomic(false)
                Thread.detachNewThread {
                    while !stop.value { _ = reader.daemonPresence() }
                }
                var failures = 0
                let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                for _ in 0..<2_000 {
                    if flock(fd, LOCK_EX | LOCK_NB) != 0 { failures += 1 }
                    flock(fd, LOCK_UN)
                }
                close(fd)
                stop.value = true
                continuation.resume(returning: failures)
            }
        }
        #expect(failures == 0)
    }
}

/// A flag two threads share.
private final class Atomic: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Bool
    init(_ value: Bool) { stored = value }
    var value: Bool {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
