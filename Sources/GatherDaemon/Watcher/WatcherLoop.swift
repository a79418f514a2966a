import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// The body of the watcher's thread: poll, read, decode, classify, yield.
/// Owns its state outright (it runs on one thread only), hence unchecked.
final class WatcherLoop: @unchecked Sendable {
    private let descriptors: WatcherDescriptors
    private let control: WatcherControl
    private let incomingPath: String
    private let cancelPath: String
    /// Events were dropped because the stream's buffer was full: a `.rescan`
    /// must be delivered before anything else, and until it is, further
    /// events are dropped too (the rescan covers them).
    private var rescanOwed = false
    /// The consumer is gone; stop reading.
    private var consumerGone = false

    /// One read takes many records; the kernel needs at least
    /// header + NAME_MAX + 1 bytes for one.
    private static let bufferSize = 64 * 1024

    init(descriptors: WatcherDescriptors, control: WatcherControl, incomingPath: String, cancelPath: String) {
        self.descriptors = descriptors
        self.control = control
        self.incomingPath = incomingPath
        self.cancelPath = cancelPath
    }

    func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 8)
        defer { buffer.deallocate() }
        var error: EventSourceError?
        loop: while !consumerGone {
            var fds = [
                pollfd(fd: descriptors.inotify, events: Int16(POLLIN), revents: 0),
                pollfd(fd: descriptors.stopEvent, events: Int16(POLLIN), revents: 0),
            ]
            // While a rescan is owed, look again every 10 ms for room in the buffer.
            let timeout: Int32 = rescanOwed ? 10 : -1
            if case .failure(let errno) = SystemCall.call({ poll(&fds, 2, timeout) }) {
                error = readError(errno)
                break
            }
            if fds[1].revents != 0 { break }
            if rescanOwed { deliver(.rescan) }
            guard fds[0].revents != 0 else { continue }
            while !consumerGone {
                let result = SystemCall.call { read(descriptors.inotify, buffer.baseAddress, buffer.count) }
                switch result {
                case .failure(let errno) where errno.rawValue == EAGAIN:
                    continue loop
                case .failure(let errno):
                    error = readError(errno)
                    break loop
                case .success(let count):
                    for record in InotifyRecord.decode(UnsafeRawBufferPointer(rebasing: buffer[..<count])) {
                        if let lost = handle(record) {
                            error = lost
                            break loop
                        }
                    }
                }
            }
        }
        control.threadEnded(descriptors, error: error)
    }

    private func readError(_ errno: Errno) -> EventSourceError {
        EventSourceError(.watchRead, source: "spool watcher", subject: incomingPath, errno: errno)
    }

    /// Turns one record into an event, or returns the error that ends the
    /// watcher when the kernel removed a watch.
    private func handle(_ record: InotifyRecord) -> EventSourceError? {
        let mask = record.mask
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            deliver(.rescan)
            return nil
        }
        if record.watch == descriptors.spoolWatch {
            if record.name == Array("paused".utf8) { deliver(.pauseChanged) }
            return nil
        }
        let isIncoming = record.watch == descriptors.incomingWatch
        guard isIncoming || record.watch == descriptors.cancelWatch else { return nil }
        let gone = UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)
        if mask & gone != 0 {
            let path = isIncoming ? incomingPath : cancelPath
            return EventSourceError(.watchRemoved, source: "spool watcher", subject: path)
        }
        let name = SpoolEntryName(bytes: record.name)
        let kind: IncomingKind
        if mask & UInt32(IN_MOVED_TO) != 0 {
            kind = .renamedIn
        } else if mask & UInt32(IN_CLOSE_WRITE) != 0 {
            kind = .closedAfterWrite
        } else if mask & UInt32(IN_CREATE) != 0 {
            let directory = isIncoming ? descriptors.incomingDirectory : descriptors.cancelDirectory
            // A regular file being written is reported when it is closed.
            guard Self.isNonRegular(name, in: directory) else { return nil }
            kind = .createdNonRegular
        } else {
            return nil
        }
        if isIncoming {
            if name.isClaimableJobFile { deliver(.incoming(name: name, kind: kind)) }
        } else {
            if name.isCancelRequest { deliver(.cancelRequest(name: name)) }
        }
        return nil
    }

    /// `lstat` of a just-created entry: true for a symlink, FIFO, directory,
    /// socket or device, or a file with more than one link (a hard link).
    /// An entry already gone (or unreadable) is left to the next scan.
    static func isNonRegular(_ name: SpoolEntryName, in directory: Int32) -> Bool {
        var info = stat()
        let result = name.withCString { path in
            SystemCall.call { fstatat(directory, path, &info, AT_SYMLINK_NOFOLLOW) }
        }
        guard case .success = result else { return false }
        return (info.st_mode & S_IFMT) != S_IFREG || info.st_nlink > 1
    }

    private func deliver(_ event: SpoolEvent) {
        if rescanOwed && event != .rescan { return }
        switch control.continuation.yield(event) {
        case .enqueued:
            if event == .rescan { rescanOwed = false }
        case .dropped:
            rescanOwed = true
        case .terminated:
            consumerGone = true
        @unknown default:
            rescanOwed = true
        }
    }
}
