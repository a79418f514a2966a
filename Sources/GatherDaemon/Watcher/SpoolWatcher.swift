import GatherSystem
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Watches a spool's `incoming/` and `cancel/` directories with inotify and
/// delivers what it sees as an `AsyncStream` of ``SpoolEvent`` (SPEC §3).
///
/// One thread blocks in `poll` on the inotify descriptor and an eventfd used to
/// stop it, decodes the kernel's records and yields events; nothing wakes on a
/// timer. The watches are in place as soon as `init` returns, before the
/// thread starts: the daemon creates the watcher, then runs its first
/// ``SpoolScan``, then `start()`s and consumes `events` — a file dropped at any
/// moment is either listed by the scan or reported as an event (or both).
///
///     let watcher = try SpoolWatcher(incoming: spool + "/incoming", cancel: spool + "/cancel")
///     let waiting = try SpoolScan.incoming(spool + "/incoming")
///     try watcher.start()
///     for await event in watcher.events { … }
///     // the stream ended without stop(): watcher.failure says why
///
/// The stream ends when `stop()` is called, when the consuming task is
/// cancelled, or when the watcher fails (``failure``: a watch removed because
/// the directory was deleted or moved, or an unexpected read error).
public final class SpoolWatcher: Sendable {
    /// The events, in the order the kernel reported them. Iterate it once.
    public let events: AsyncStream<SpoolEvent>
    /// The watched directories, as given.
    public let incomingPath: String
    public let cancelPath: String

    private let control: WatcherControl

    /// Sets up the watches (`IN_MOVED_TO`, `IN_CLOSE_WRITE`, `IN_CREATE` on both
    /// directories, plus `IN_DELETE_SELF`/`IN_MOVE_SELF` to notice losing one).
    /// Symlinked directories are refused (`IN_DONT_FOLLOW`).
    /// - Parameters:
    ///   - incoming: the spool's `incoming/` directory.
    ///   - cancel: the spool's `cancel/` directory.
    ///   - bufferLimit: events kept for a slow consumer; beyond it events are
    ///     dropped and a single `.rescan` is delivered once there is room, so
    ///     memory stays bounded however fast users drop files.
    ///   - spool: the spool directory itself, whose `paused` file (SPEC §3) is
    ///     reported as ``SpoolEvent/pauseChanged`` when it appears or goes;
    ///     nil: not watched.
    public init(incoming: String, cancel: String, spool: String? = nil, bufferLimit: Int = 65_536) throws(EventSourceError) {
        incomingPath = incoming
        cancelPath = cancel
        let (stream, continuation) = AsyncStream.makeStream(
            of: SpoolEvent.self, bufferingPolicy: .bufferingOldest(max(1, bufferLimit)))
        events = stream
        let descriptors = try WatcherDescriptors.open(incoming: incoming, cancel: cancel, spool: spool)
        let control = WatcherControl(descriptors: descriptors, continuation: continuation)
        self.control = control
        continuation.onTermination = { _ in control.stop() }
    }

    deinit { control.stop() }

    /// Starts the thread that reads the watches. Events that happened since
    /// `init` are waiting in the kernel's queue and are delivered first.
    public func start() throws(EventSourceError) {
        try control.start(incomingPath: incomingPath, cancelPath: cancelPath)
    }

    /// Ends the thread and the stream promptly; the thread closes the
    /// descriptors. Safe to call more than once, from any thread.
    public func stop() { control.stop() }

    /// Why the stream ended on its own, or `nil` while it runs or after `stop()`.
    public var failure: EventSourceError? { control.failure }
}

/// The descriptors the watcher owns, closed exactly once.
struct WatcherDescriptors: Sendable {
    var inotify: Int32
    var stopEvent: Int32
    var incomingDirectory: Int32
    var cancelDirectory: Int32
    var incomingWatch: Int32
    var cancelWatch: Int32
    /// The spool directory's watch (its `paused` file), or -1.
    var spoolWatch: Int32 = -1

    static let watchMask = UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE_SELF
        | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
    /// The spool directory: any entry made, removed or renamed (only `paused` counts).
    static let spoolMask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR | IN_DONT_FOLLOW)

    static func open(incoming: String, cancel: String, spool: String? = nil) throws(EventSourceError) -> WatcherDescriptors {
        func setupError(_ subject: String?, _ errno: Errno) -> EventSourceError {
            EventSourceError(.watchSetup, source: "spool watcher", subject: subject, errno: errno)
        }
        var opened: [Int32] = []
        func take(_ result: Result<Int32, Errno>, _ subject: String?) throws(EventSourceError) -> Int32 {
            switch result {
            case .success(let fd):
                opened.append(fd)
                return fd
            case .failure(let errno):
                opened.forEach(SystemCall.close)
                throw setupError(subject, errno)
            }
        }
        let inotify = try take(SystemCall.call { inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) }, nil)
        let stopEvent = try take(EventWait.makeEventFD(), nil)
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        let incomingDirectory = try take(SystemCall.call { Glibc.open(incoming, flags) }, incoming)
        let cancelDirectory = try take(SystemCall.call { Glibc.open(cancel, flags) }, cancel)
        // Watch descriptors are not file descriptors: closing inotify drops them.
        func watch(_ path: String) throws(EventSourceError) -> Int32 {
            switch SystemCall.call({ inotify_add_watch(inotify, path, watchMask) }) {
            case .success(let wd): return wd
            case .failure(let errno):
                opened.forEach(SystemCall.close)
                throw setupError(path, errno)
            }
        }
        let incomingWatch = try watch(incoming)
        let cancelWatch = try watch(cancel)
        var spoolWatch: Int32 = -1
        if let spool {
            switch SystemCall.call({ inotify_add_watch(inotify, spool, spoolMask) }) {
            case .success(let wd): spoolWatch = wd
            case .failure(let errno):
                opened.forEach(SystemCall.close)
                throw setupError(spool, errno)
            }
        }
        return WatcherDescriptors(
            inotify: inotify, stopEvent: stopEvent, incomingDirectory: incomingDirectory,
            cancelDirectory: cancelDirectory, incomingWatch: incomingWatch, cancelWatch: cancelWatch,
            spoolWatch: spoolWatch)
    }

    func closeAll() {
        for fd in [inotify, stopEvent, incomingDirectory, cancelDirectory] { SystemCall.close(fd) }
    }
}

/// The watcher's life, shared by its owner and its thread. Every close and
/// every write to the stop eventfd happens under the lock, so `stop()` never
/// writes to a descriptor the thread has already closed.
final class WatcherControl: Sendable {
    private enum Phase {
        case ready(WatcherDescriptors)
        case running(WatcherDescriptors)
        case stopping
        case ended(EventSourceError?)
    }

    private let phase: Mutex<Phase>
    let continuation: AsyncStream<SpoolEvent>.Continuation

    init(descriptors: WatcherDescriptors, continuation: AsyncStream<SpoolEvent>.Continuation) {
        phase = Mutex(.ready(descriptors))
        self.continuation = continuation
    }

    func start(incomingPath: String, cancelPath: String) throws(EventSourceError) {
        let result: Result<Void, EventSourceError> = phase.withLock { phase in
            guard case .ready(let descriptors) = phase else {
                return .failure(EventSourceError(.alreadyStarted, source: "spool watcher", subject: incomingPath))
            }
            let loop = WatcherLoop(
                descriptors: descriptors, control: self,
                incomingPath: incomingPath, cancelPath: cancelPath)
            switch OSThread.start(name: "gatherd-watch", { loop.run() }) {
            case .success(let thread):
                // Nobody joins it: it closes what it owns and ends by itself.
                pthread_detach(thread)
                phase = .running(descriptors)
                return .success(())
            case .failure(let errno):
                return .failure(EventSourceError(.thread, source: "spool watcher", subject: incomingPath, errno: errno))
            }
        }
        try result.get()
    }

    func stop() {
        let finishNow: Bool = phase.withLock { phase in
            switch phase {
            case .ready(let descriptors):
                // Never started: no thread to close them, so close them here.
                descriptors.closeAll()
                phase = .ended(nil)
                return true
            case .running(let descriptors):
                EventWait.signal(eventFD: descriptors.stopEvent)
                phase = .stopping
                return false
            case .stopping, .ended:
                return false
            }
        }
        if finishNow { continuation.finish() }
    }

    /// Called by the thread as its last act: closes everything, ends the stream.
    func threadEnded(_ descriptors: WatcherDescriptors, error: EventSourceError?) {
        phase.withLock { phase in
            descriptors.closeAll()
            phase = .ended(error)
        }
        continuation.finish()
    }

    var failure: EventSourceError? {
        phase.withLock { phase in
            if case .ended(let error) = phase { return error }
            return nil
        }
    }
}
