// A stand-in for journald in the probe's private mount namespace: a datagram
// socket bound at the journal socket's path, and a thread that reads it and
// records the number N of every entry whose MESSAGE is "probe entry N". It can
// stop reading (datagrams then wait in its queue, as in a journald that hangs),
// go away with or without its socket file, and come back.
import GatherSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

final class FakeJournal: Sendable {
    private struct State {
        var fd: Int32 = -1
        var reading = true
        var ended = false
        var received: Set<Int> = []
        var datagrams = 0
    }

    let path: String
    private let state = Mutex(State())

    /// Binds the socket (its directory is created) and starts the reader.
    init(path: String) {
        self.path = path
        let fd = Self.bind(path)
        state.withLock { $0.fd = fd }
        OSThread.start(name: "fake-journald", detached: true) { [self] in self.read() }
    }

    /// The entry numbers received so far, and how many datagrams in all.
    var received: (numbers: Set<Int>, datagrams: Int) {
        state.withLock { ($0.received, $0.datagrams) }
    }

    /// Stops reading: what is sent from now on waits in the socket's queue.
    func pauseReading() { state.withLock { $0.reading = false } }

    /// Waits until at least one datagram waits unread (at most `seconds`).
    func waitForUnreadData(seconds: Int32) -> Bool {
        state.withLock { state in
            var fds = [pollfd(fd: state.fd, events: Int16(POLLIN), revents: 0)]
            return poll(&fds, 1, seconds * 1000) == 1
        }
    }

    /// Closes the socket, losing what waits in its queue; with `unlink` the
    /// socket file is removed first (journald stopped), else it stays behind
    /// with nobody bound to it (journald killed).
    func close(unlinking: Bool) {
        state.withLock { state in
            if unlinking { unlink(path) }
            Glibc.close(state.fd)
            state.fd = -1
        }
    }

    /// A new socket at the same path (journald started again), read from now on.
    func rebind() {
        state.withLock { state in
            unlink(path)
            state.fd = Self.bind(path)
            state.reading = true
        }
    }

    /// Reads what waits, then ends the reader.
    func finish() {
        state.withLock { state in
            if state.fd >= 0 { Self.drain(&state) }
            state.ended = true
        }
    }

    private func read() {
        while true {
            let ended = state.withLock { state in
                if state.reading && state.fd >= 0 { Self.drain(&state) }
                return state.ended
            }
            if ended { return }
            usleep(300)
        }
    }

    private static func drain(_ state: inout State) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(state.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return }
            state.datagrams += 1
            if let number = entryNumber(buffer[..<count]) { state.received.insert(number) }
        }
    }

    /// The N of `MESSAGE=probe entry N` in a datagram of journald's native
    /// protocol: `NAME=value\n`, or `NAME\n`, a 64-bit little-endian size, the
    /// value and `\n` for a value holding a newline.
    static func entryNumber(_ datagram: ArraySlice<UInt8>) -> Int? {
        var index = datagram.startIndex
        while index < datagram.endIndex {
            guard let end = datagram[index...].firstIndex(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\n") })
            else { return nil }
            let name = datagram[index..<end]
            let value: ArraySlice<UInt8>
            if datagram[end] == UInt8(ascii: "=") {
                let stop = datagram[(end + 1)...].firstIndex(of: UInt8(ascii: "\n")) ?? datagram.endIndex
                value = datagram[(end + 1)..<stop]
                index = stop + 1
            } else {
                guard datagram.endIndex - end >= 9 else { return nil }
                let size = (0..<8).reduce(0) { $0 | Int(datagram[end + 1 + $1]) << (8 * $1) }
                guard size <= datagram.endIndex - end - 9 else { return nil }
                value = datagram[(end + 9)..<(end + 9 + size)]
                index = end + 9 + size + 1
            }
            let prefix = Array("probe entry ".utf8)
            if name.elementsEqual("MESSAGE".utf8), value.starts(with: prefix) {
                return Int(String(decoding: value.dropFirst(prefix.count), as: UTF8.self))
            }
        }
        return nil
    }

    /// A datagram socket bound at `path` (its directory created), or -1.
    static func bind(_ path: String) -> Int32 {
        if let slash = path.lastIndex(of: "/") { mkdir(String(path[..<slash]), 0o755) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if bound != 0 {
            Glibc.close(fd)
            return -1
        }
        return fd
    }
}
