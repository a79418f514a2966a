import GatherSystem
import CLinux
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A signal the daemon acts on (SPEC §9).
public enum DaemonSignal: String, Sendable, Hashable, CaseIterable {
    /// SIGTERM: stop claiming, cancel running jobs, record them, exit 0.
    case terminate = "SIGTERM"
    /// SIGINT: the same as SIGTERM.
    case interrupt = "SIGINT"
    /// SIGHUP: rescan the spool.
    case hangup = "SIGHUP"

    /// The signal number.
    public var number: Int32 {
        switch self {
        case .terminate: SIGTERM
        case .interrupt: SIGINT
        case .hangup: SIGHUP
        }
    }
}

/// SIGTERM, SIGINT and SIGHUP as an `AsyncStream`, and SIGPIPE made harmless.
///
/// How: a `sigaction` handler (in the CLinux shim) marks the signal pending and
/// writes one byte to a pipe; one thread polls that pipe and yields the marked
/// signals. Why not the alternatives:
/// - `signalfd` only works if the signals are blocked in *every* thread, which
///   a library cannot ensure once Swift's thread pool (or a test runner) runs,
///   and a blocked mask is inherited by children across `execve`.
/// - `DispatchSource.makeSignalSource` on Linux installs libdispatch's own
///   handler asynchronously (a signal right after start-up may find the default
///   action still in place) and never restores the old disposition.
/// A handled signal is reset to its default by `execve`, so children start
/// with SIGTERM/SIGINT/SIGHUP at their defaults without any help; `stop()`
/// puts back the previous actions. Only one `SignalEvents` may be active in a
/// process at a time (dispositions are process-wide).
///
///     let signals = try SignalEvents()
///     for await signal in signals.events {
///         switch signal { case .hangup: rescan(); case .terminate, .interrupt: shutDown() }
///     }
public final class SignalEvents: Sendable {
    /// The signals as they arrive. Two deliveries of the same signal before the
    /// thread wakes may show as one (as with any Unix signal).
    public let events: AsyncStream<DaemonSignal>
    /// The signals this source handles.
    public let handled: [DaemonSignal]

    private let control: SignalControl

    /// Installs the handlers and starts the thread. Signals sent once this
    /// returns are delivered as events. SIGPIPE is made harmless too
    /// (see ``ignoreBrokenPipes()``).
    /// - Parameter signals: the signals to handle (default: all three).
    public init(_ signals: [DaemonSignal] = DaemonSignal.allCases) throws(EventSourceError) {
        let (stream, continuation) = AsyncStream.makeStream(of: DaemonSignal.self)
        events = stream
        handled = signals
        try Self.ignoreBrokenPipes()
        control = try SignalControl.start(signals, continuation: continuation)
        let control = self.control
        continuation.onTermination = { _ in control.stop() }
    }

    deinit { control.stop() }

    /// Restores the signals' previous actions, ends the thread (waiting for it)
    /// and the stream. Safe to call more than once.
    public func stop() { control.stop() }

    /// Makes a write to a pipe or socket whose reader is gone fail with `EPIPE`
    /// instead of killing the process (SPEC §9). Done with a handler that does
    /// nothing rather than `SIG_IGN`, because an ignored disposition survives
    /// `execve` and tasks would start with SIGPIPE ignored; a handler does not.
    public static func ignoreBrokenPipes() throws(EventSourceError) {
        if case .failure(let errno) = SystemCall.call({ clinux_sigpipe_harmless() }) {
            throw EventSourceError(.signalSetup, source: "signals", subject: "SIGPIPE", errno: errno)
        }
    }
}

/// The installed handlers and the thread that forwards them.
final class SignalControl: Sendable {
    /// Installing and restoring is process-wide: one at a time.
    private static let installation = Mutex(false)

    private enum Phase {
        case running(thread: pthread_t, stopEvent: Int32)
        case stopped
    }
    private let phase: Mutex<Phase>

    private init(thread: pthread_t, stopEvent: Int32) {
        phase = Mutex(.running(thread: thread, stopEvent: stopEvent))
    }

    static func start(
        _ signals: [DaemonSignal], continuation: AsyncStream<DaemonSignal>.Continuation
    ) throws(EventSourceError) -> SignalControl {
        func setupError(_ errno: Errno) -> EventSourceError {
            EventSourceError(.signalSetup, source: "signals",
                             subject: signals.map(\.rawValue).joined(separator: ", "), errno: errno)
        }
        let result: Result<SignalControl, EventSourceError> = installation.withLock { installed in
            if installed { return .failure(setupError(Errno(EBUSY))) }
            let stopEvent: Int32
            switch EventWait.makeEventFD() {
            case .success(let fd): stopEvent = fd
            case .failure(let errno): return .failure(setupError(errno))
            }
            let numbers = signals.map(\.number)
            let forwarded = SystemCall.call { clinux_signals_forward(numbers, Int32(numbers.count)) }
            let wakeFd: Int32
            switch forwarded {
            case .success(let fd): wakeFd = fd
            case .failure(let errno):
                SystemCall.close(stopEvent)
                return .failure(setupError(errno))
            }
            let started = OSThread.start(name: "gatherd-signals") {
                forwardLoop(wakeFd: wakeFd, stopEvent: stopEvent, signals: signals, continuation: continuation)
            }
            switch started {
            case .success(let thread):
                installed = true
                return .success(SignalControl(thread: thread, stopEvent: stopEvent))
            case .failure(let errno):
                _ = clinux_signals_restore()
                SystemCall.close(stopEvent)
                return .failure(EventSourceError(.thread, source: "signals", errno: errno))
            }
        }
        return try result.get()
    }

    func stop() {
        let running: (pthread_t, Int32)? = phase.withLock { phase in
            guard case .running(let thread, let stopEvent) = phase else { return nil }
            phase = .stopped
            return (thread, stopEvent)
        }
        guard let (thread, stopEvent) = running else { return }
        Self.installation.withLock { installed in
            _ = clinux_signals_restore()
            installed = false
        }
        EventWait.signal(eventFD: stopEvent)
        // Wait for the thread, so a later SignalEvents never shares the wake
        // pipe with it; it cannot be this thread (the loop never calls stop).
        if pthread_equal(thread, pthread_self()) != 0 {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
        SystemCall.close(stopEvent)
    }

    /// The thread: wait for a wake byte or the stop event, then yield every
    /// signal marked pending, in a fixed order.
    private static func forwardLoop(
        wakeFd: Int32, stopEvent: Int32, signals: [DaemonSignal],
        continuation: AsyncStream<DaemonSignal>.Continuation
    ) {
        var drain = [UInt8](repeating: 0, count: 64)
        while true {
            var fds = [
                pollfd(fd: wakeFd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopEvent, events: Int16(POLLIN), revents: 0),
            ]
            guard case .success = SystemCall.call({ poll(&fds, 2, -1) }) else { break }
            if fds[1].revents != 0 { break }
            // Empty the pipe first, then take the marks: a signal arriving in
            // between leaves a byte behind and is seen on the next turn.
            while case .success(let count) = SystemCall.call({ read(wakeFd, &drain, drain.count) }),
                count > 0 {}
            for signal in signals where clinux_signals_take(signal.number) != 0 {
                continuation.yield(signal)
            }
        }
        continuation.finish()
    }
}
