import Gather
import Synchronization

/// What `--metrics-file` publishes (SPEC §9), kept as it changes: the
/// supervisor sets the job counts and gauges at the end of each turn, the job
/// runners count task ends, running processes and claim latencies. Every
/// change that alters a value wakes the writer (``changes``); one that alters
/// nothing does not, so an idle daemon never writes.
final class Metrics: Sendable {
    private let state = Mutex(MetricsValues())
    /// Yields when a value changed since the writer last looked; at most one
    /// wake-up is kept, so a burst of changes is one write.
    let changes: AsyncStream<Void>
    private let change: AsyncStream<Void>.Continuation

    init() {
        (changes, change) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The values now, for the writer.
    var values: MetricsValues { state.withLock { $0 } }

    /// Changes the values; wakes the writer only when `body` altered one.
    func update(_ body: (inout MetricsValues) -> Void) {
        let changed = state.withLock { values in
            let before = values
            body(&values)
            return values != before
        }
        if changed { change.yield() }
    }

    /// A task ended with `outcome` (the engine's `taskEnded`; retried attempts are not counted).
    func taskEnded(_ outcome: TaskOutcome) {
        update { $0.tasks[outcome, default: 0] += 1 }
    }

    /// A task's process started or exited.
    func processStarted() { update { $0.tasksRunning += 1 } }
    func processExited() { update { $0.tasksRunning = max(0, $0.tasksRunning - 1) } }

    /// A job's first task started `seconds` after its file was seen.
    func claimed(after seconds: Double) {
        update { $0.claimLatency.observe(seconds) }
    }

    /// The writer is done with the daemon: no more wake-ups.
    func finish() { change.finish() }
}

/// The published values; `Equatable` so an update that changes nothing wakes no one.
struct MetricsValues: Sendable, Equatable {
    /// Jobs by final state, counted when the record is in its state directory.
    var jobs: [JobState: Int] = [:]
    /// Tasks by outcome.
    var tasks: [TaskOutcome: Int] = [:]
    var jobsRunning = 0
    /// Processes of tasks running now.
    var tasksRunning = 0
    /// Admitted jobs waiting for a start.
    var jobsQueued = 0
    /// Claimable files waiting in `incoming/` (listed by the writer).
    var incomingFiles = 0
    /// Spool writes that failed (records, claims, `state.json`, commits).
    var spoolWriteErrors = 0
    /// Whether a spool write error holds claiming now.
    var spoolWriteErrorNow = false
    /// When the last job ended `failed`, in seconds since the epoch; 0: none yet.
    var lastFailure: Double = 0
    /// The spool's `paused` file holds claiming.
    var paused = false
    /// File seen → first task started.
    var claimLatency = Histogram(bounds: Histogram.claimBounds)
    /// Spool events handled by the supervisor: a file dropped while claiming is
    /// held changes no count, yet the writer must look at `incoming/` again.
    var spoolEvents = 0
}

/// A Prometheus histogram: cumulative counts per upper bound, their sum and count.
struct Histogram: Sendable, Equatable {
    /// 1 ms to 10 s: a claim takes milliseconds; seconds mean a busy or held daemon.
    static let claimBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    let bounds: [Double]
    /// Observations at most `bounds[i]` (not cumulative; the text sums them).
    private(set) var buckets: [Int]
    private(set) var sum: Double = 0
    private(set) var count = 0

    init(bounds: [Double]) {
        self.bounds = bounds
        buckets = Array(repeating: 0, count: bounds.count)
    }

    mutating func observe(_ value: Double) {
        if let index = bounds.firstIndex(where: { value <= $0 }) { buckets[index] += 1 }
        sum += value
        count += 1
    }
}
