import GatherSystem

/// Where log entries go (`--log-target`).
public enum LogTarget: String, Sendable, CaseIterable {
    /// The journal if its socket exists when the writer starts, else stderr.
    case auto
    /// The journal; an entry that cannot be sent goes to stderr.
    case journal
    /// Readable lines on stderr only.
    case stderr
}

/// The daemon's one way to the journal: a bounded queue feeding one writer thread.
///
/// `sd_journal_sendv` blocks while journald is slow; the supervisor must not
/// (SPEC §7). So callers only enqueue:
/// - ``log(_:)`` (job and daemon events) waits at most ``Configuration/eventWait``
///   (1 s) for room, then writes the event to stderr itself;
/// - ``logOutput(_:from:)`` (task output lines) blocks while the queue is full:
///   that is the back-pressure on the tasks' pipes. Call it from the output
///   reader's thread, never from an actor.
///
/// Nothing here throws into the caller: an entry that cannot be sent (no socket,
/// a stale socket, any error of libsystemd) becomes a readable stderr line.
///
/// An entry libsystemd accepted is not yet stored: with no socket file it is
/// dropped silently, and journald killed with datagrams still in its socket's
/// queue loses them. So the thread watches the socket (``JournalSocketWatch``)
/// and keeps what it sent in the last 5 s (``RecentEntries``); when the socket
/// goes away or a send fails it writes those entries to stderr again, marked
/// `replay` (counted in ``Statistics/replayed``), and sends to the journal
/// again once the socket is back. An entry may so be in both; none is lost.
public final class JournalWriter: @unchecked Sendable {
    /// How the writer behaves; the defaults are the daemon's.
    public struct Configuration: Sendable {
        /// `--log-target`.
        public var target: LogTarget = .auto
        /// Entries the queue holds before callers wait.
        public var capacity: Int = 4096
        /// How long ``log(_:)`` waits for room before falling back to stderr.
        public var eventWait: Duration = .seconds(1)
        /// Events above this PRIORITY are dropped (`--log-level info` = 6, `debug` = 7).
        public var maxEventPriority: Int = 6
        /// Where fallback lines go; a test may pass a pipe.
        public var stderrDescriptor: Int32 = 2

        public init(target: LogTarget = .auto, maxEventPriority: Int = 6) {
            self.target = target
            self.maxEventPriority = maxEventPriority
        }
    }

    /// Counts since the writer started, for tests, benchmarks and `STATUS=`.
    public struct Statistics: Sendable, Equatable {
        /// Entries `sd_journal_sendv` accepted.
        public var sent = 0
        /// Entries written to stderr instead (target, no socket, send failure, full queue).
        public var toStderr = 0
        /// Sends that failed; their entries are in `toStderr`.
        public var sendFailures = 0
        /// The errno of the last failed send.
        public var lastErrno: Int32?
        /// Entries written to stderr a second time because journald may not
        /// have read them (its socket went away, or a later send failed); they
        /// are in `sent` too, and may be in the journal as well.
        public var replayed = 0
    }

    private struct Item {
        var entry: JournalEntry
        var isOutput: Bool
    }

    private struct State {
        var queue: [Item] = []
        var enqueued = 0
        var handled = 0
        var closing = false
        var statistics = Statistics()
    }

    public let configuration: Configuration
    /// Whether entries are sent to the journal (decided at start for `auto`).
    public let usesJournal: Bool
    private let condition = Condition()
    private var state = State() // guarded by `condition`
    private let finished = Condition()
    private var threadDone = false // guarded by `finished`

    /// Starts the writer thread. The thread keeps the writer alive until ``close()``.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        switch configuration.target {
        case .auto: usesJournal = JournalSender.socketExists
        case .journal: usesJournal = true
        case .stderr: usesJournal = false
        }
        // One thread for the one event source here (journald's socket); it lives
        // as long as the writer and is waited for in close().
        if case .failure = OSThread.start(name: "gatherd-journal", detached: true, { [self] in self.run() }) {
            // Out of threads: every entry goes to stderr from the caller instead.
            state.closing = true
            threadDone = true
        }
    }

    /// Logs a job or daemon event (see the `JournalEntry` event constructors).
    ///
    /// Waits up to ``Configuration/eventWait`` for room in the queue, then writes
    /// the event to stderr from the calling thread. Never throws, never blocks longer;
    /// with room in the queue (the normal case) it returns at once (about 0.2 µs).
    public func log(_ entry: JournalEntry) {
        guard entry.priority <= configuration.maxEventPriority else { return }
        let deadline = EventWait.monotonicNanoseconds() &+ configuration.eventWait.clampedNanoseconds
        condition.lock()
        while state.queue.count >= configuration.capacity && !state.closing {
            if !condition.wait(untilMonotonic: deadline) { break }
        }
        if state.queue.count < configuration.capacity && !state.closing {
            enqueueLocked(Item(entry: entry, isOutput: false))
            condition.unlock()
            return
        }
        state.statistics.toStderr += 1
        condition.unlock()
        writeToStderr(entry, isOutput: false)
    }

    /// Logs one line a task wrote, as one or more entries (``JournalEntry/taskOutput(_:from:)``).
    ///
    /// Blocks while the queue is full, so a task that writes faster than journald
    /// stores is slowed down through its pipe; nothing is dropped.
    public func logOutput(_ line: some Collection<UInt8>, from source: TaskOutputSource) {
        logOutput(line, fields: TaskOutputFields(source))
    }

    /// Logs one line a task wrote, with its source's shared fields made once
    /// (``JournalEntry/taskOutput(_:fields:)``).
    public func logOutput(_ line: some Collection<UInt8>, fields: TaskOutputFields) {
        for entry in JournalEntry.taskOutput(line, fields: fields) {
            condition.lock()
            while state.queue.count >= max(configuration.capacity, 1) && !state.closing { condition.wait() }
            if state.closing {
                state.statistics.toStderr += 1
                condition.unlock()
                writeToStderr(entry, isOutput: true)
                continue
            }
            enqueueLocked(Item(entry: entry, isOutput: true))
            condition.unlock()
        }
    }

    /// Waits until every entry queued before this call has been sent or written to stderr.
    public func flush() {
        condition.lock()
        let target = state.enqueued
        while state.handled < target { condition.wait() }
        condition.unlock()
    }

    /// Sends what is queued, then stops the thread. Later calls write to stderr.
    public func close() {
        condition.lock()
        state.closing = true
        condition.broadcast()
        condition.unlock()
        finished.lock()
        while !threadDone { finished.wait() }
        finished.unlock()
    }

    /// Counts so far.
    public var statistics: Statistics {
        condition.lock()
        defer { condition.unlock() }
        return state.statistics
    }

    private func enqueueLocked(_ item: Item) {
        state.queue.append(item)
        state.enqueued += 1
        condition.broadcast()
    }

    private func run() {
        // Created and read on this thread only (JournalSocketWatch says why).
        let socket = usesJournal ? JournalSocketWatch() : nil
        var recent = RecentEntries()
        while true {
            condition.lock()
            // While it holds entries it may have to replay, the thread looks at
            // the socket at least once a second, even with nothing to send.
            let deadline = EventWait.monotonicNanoseconds() &+ 1_000_000_000
            var idle = false
            while state.queue.isEmpty && !state.closing && !idle {
                if recent.isEmpty {
                    condition.wait()
                } else {
                    idle = !condition.wait(untilMonotonic: deadline)
                }
            }
            let closing = state.closing
            let batch = state.queue
            state.queue.removeAll(keepingCapacity: true)
            condition.broadcast() // room for waiting callers
            condition.unlock()

            var delta = Statistics()
            for item in batch {
                if let socket, lookAt(socket, replaying: &recent, counting: &delta) {
                    if let error = JournalSender.send(item.entry) {
                        delta.sendFailures += 1
                        delta.lastErrno = error
                        // journald may be gone with entries it had not read.
                        replay(&recent, because: "sending to the journal failed (\(Errno(error)))", counting: &delta)
                    } else {
                        delta.sent += 1
                        recent.append(item.entry, isOutput: item.isOutput, sentAt: EventWait.monotonicNanoseconds())
                        continue
                    }
                }
                delta.toStderr += 1
                writeToStderr(item.entry, isOutput: item.isOutput)
            }
            if batch.isEmpty {
                // A second without entries, or the end: a last look.
                if let socket { _ = lookAt(socket, replaying: &recent, counting: &delta) }
            }

            condition.lock()
            state.handled += batch.count
            state.statistics.sent += delta.sent
            state.statistics.toStderr += delta.toStderr
            state.statistics.sendFailures += delta.sendFailures
            state.statistics.replayed += delta.replayed
            if let error = delta.lastErrno { state.statistics.lastErrno = error }
            condition.broadcast()
            condition.unlock()
            if batch.isEmpty && closing { break }
        }
        finished.lock()
        threadDone = true
        finished.broadcast()
        finished.unlock()
    }

    /// Whether an entry may be sent now. When the socket went away since the
    /// last look, replays `recent` first; otherwise drops from it what is too
    /// old to need a replay any more.
    private func lookAt(
        _ socket: JournalSocketWatch, replaying recent: inout RecentEntries, counting delta: inout Statistics
    ) -> Bool {
        let now = EventWait.monotonicNanoseconds()
        let status = socket.check(now: now)
        if status.lost {
            replay(&recent, because: "the journal socket \(JournalSender.socketPath) went away", counting: &delta)
        } else {
            recent.prune(now: now)
        }
        return status.present
    }

    /// Writes every entry of `recent` to stderr, marked as a replay, after a
    /// line that says why; `recent` is empty after.
    private func replay(_ recent: inout RecentEntries, because reason: String, counting delta: inout Statistics) {
        guard !recent.isEmpty else { return }
        let seconds = recent.limits.age / 1_000_000_000
        let items = recent.removeAll()
        let notice = "gatherd: warning: \(reason); writing the \(items.count) entries sent in the last \(seconds)s"
            + " to stderr again, marked \"replay\" (they may be in the journal too)\n"
        SystemCall.writeAll(configuration.stderrDescriptor, Array(notice.utf8))
        for item in items {
            let line = StderrLine.render(item.entry, isOutput: item.isOutput, replayed: true)
            SystemCall.writeAll(configuration.stderrDescriptor, Array(line.utf8))
        }
        delta.replayed += items.count
    }

    private func writeToStderr(_ entry: JournalEntry, isOutput: Bool) {
        SystemCall.writeAll(configuration.stderrDescriptor, Array(StderrLine.render(entry, isOutput: isOutput).utf8))
    }
}
