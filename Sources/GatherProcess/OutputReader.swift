import GatherSystem
import CLinux
import Glibc
import Synchronization

/// Called on the output thread for each complete line of a process's output,
/// without its newline, with the PID of the process whose pipe it came from. Lines longer than 64 KiB arrive in 64 KiB pieces; a
/// final line with no newline is delivered at end of file. The bytes are valid
/// only during the call (copy what you keep).
///
/// The handler may block: while it does, the output thread reads no pipe, the
/// pipes fill and the writing processes block — that is the back-pressure
/// that keeps memory bounded when the consumer (the journal) is slower than a
/// task's output.
public typealias ProcessOutputHandler = @Sendable (_ stream: StandardStream, _ pid: pid_t, _ line: UnsafeRawBufferPointer) -> Void

/// Reads every child's stdout and stderr on one thread (`epoll` over the
/// pipes' read ends), splits lines and keeps the stderr tail.
///
/// Memory per stream is the unfinished line only (at most 64 KiB); reads go
/// through one shared 64 KiB buffer.
final class OutputReader: Sendable {
    /// Lines longer than this are split (SPEC §7).
    static let maxLine = 64 * 1024

    /// One pipe; touched only on the output thread once registered.
    private final class Stream: @unchecked Sendable {
        let fd: Int32
        let kind: StandardStream
        let process: RunningProcess
        let handler: ProcessOutputHandler?
        var partial: [UInt8] = []

        init(fd: Int32, kind: StandardStream, process: RunningProcess, handler: ProcessOutputHandler?) {
            self.fd = fd
            self.kind = kind
            self.process = process
            self.handler = handler
        }
    }

    private struct State {
        var streams: [UInt64: Stream] = [:]
        var nextToken: UInt64 = 1
        /// Streams to drop without waiting for end of file (see `abandon`).
        var abandoned: [ObjectIdentifier] = []
    }

    private let epoll: Int32
    private let wake: Int32
    private let state = Mutex(State())

    init() throws(SystemCallError) {
        (epoll, wake) = try EventWait.makeEpollWithWake().get()
        if case .failure(let errno) = OSThread.start(name: "gatherd-output", detached: true, { [self] in run() }) {
            SystemCall.close(epoll)
            SystemCall.close(wake)
            throw SystemCallError("pthread_create", errno: errno)
        }
    }

    /// Starts reading `fd` (a pipe's read end, now owned here) for `process`.
    func read(_ fd: Int32, kind: StandardStream, of process: RunningProcess, handler: ProcessOutputHandler?) throws(SystemCallError) {
        let stream = Stream(fd: fd, kind: kind, process: process, handler: handler)
        let token = state.withLock { state in
            let token = state.nextToken
            state.nextToken += 1
            state.streams[token] = stream
            return token
        }
        if case .failure(let error) = SystemCall.call("epoll_ctl", { clinux_epoll_add(epoll, fd, token) }) {
            _ = state.withLock { $0.streams.removeValue(forKey: token) }
            throw error
        }
    }

    /// Stops reading `process`'s pipes as if they had ended (what is buffered
    /// is delivered). For pipes a process that left its group keeps open.
    func abandon(_ process: RunningProcess) {
        state.withLock { $0.abandoned.append(ObjectIdentifier(process)) }
        EventWait.signal(eventFD: wake)
    }

    private func run() {
        let capacity = 256
        let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.maxLine, alignment: 16)
        while true {
            guard case .success(let count) = SystemCall.call({ clinux_epoll_wait(epoll, tokens, Int32(capacity), -1) }) else {
                continue  // nothing but EINTR (retried inside) can fail on a valid epoll fd
            }
            for i in 0..<Int(count) {
                let token = tokens[i]
                if token == 0 {
                    EventWait.drain(eventFD: wake)
                    dropAbandoned()
                    continue
                }
                guard let stream = state.withLock({ $0.streams[token] }) else { continue }
                // Level-triggered: one read per wake-up keeps all pipes fair; a
                // pipe that epoll reports readable never blocks this read.
                switch SystemCall.call({ Glibc.read(stream.fd, buffer.baseAddress, buffer.count) }) {
                case .success(let n) where n > 0:
                    consume(UnsafeRawBufferPointer(rebasing: buffer[..<n]), of: stream)
                case .failure(let errno) where errno == EAGAIN:
                    break
                case .success, .failure:
                    finish(token, stream)  // end of file, or a pipe that cannot be read
                }
            }
        }
    }

    private func consume(_ bytes: UnsafeRawBufferPointer, of stream: Stream) {
        if stream.kind == .stderr { stream.process.appendStderr(bytes) }
        guard let handler = stream.handler else { return }
        var rest = bytes
        while let newline = rest.firstIndex(of: 0x0A) {
            let line = UnsafeRawBufferPointer(rebasing: rest[..<newline])
            if stream.partial.isEmpty {
                handler(stream.kind, stream.process.pid, line)
            } else {
                stream.partial.append(contentsOf: line)
                flushPartial(stream, final: true)
            }
            rest = UnsafeRawBufferPointer(rebasing: rest[(newline + 1)...])
        }
        stream.partial.append(contentsOf: rest)
        flushPartial(stream, final: false)
    }

    /// Delivers the unfinished line: whole 64 KiB pieces, or all of it when `final`.
    private func flushPartial(_ stream: Stream, final: Bool) {
        guard let handler = stream.handler, !stream.partial.isEmpty else { return }
        var start = 0
        stream.partial.withUnsafeBytes { all in
            while all.count - start >= Self.maxLine || (final && start < all.count) {
                let end = min(start + Self.maxLine, all.count)
                handler(stream.kind, stream.process.pid, UnsafeRawBufferPointer(rebasing: all[start..<end]))
                start = end
            }
        }
        if start > 0 { stream.partial.removeFirst(start) }
    }

    private func finish(_ token: UInt64, _ stream: Stream) {
        flushPartial(stream, final: true)
        _ = state.withLock { $0.streams.removeValue(forKey: token) }
        _ = clinux_epoll_del(epoll, stream.fd)
        SystemCall.close(stream.fd)
        stream.process.streamEnded()
    }

    private func dropAbandoned() {
        let doomed: [(UInt64, Stream)] = state.withLock { state in
            let ids = Set(state.abandoned)
            state.abandoned.removeAll()
            return state.streams.filter { ids.contains(ObjectIdentifier($0.value.process)) }.map { ($0.key, $0.value) }
        }
        for (token, stream) in doomed { finish(token, stream) }
    }
}
