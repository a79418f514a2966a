/// What ``JobQueue`` needs to know of a job: its ID and its submitter.
protocol QueueEntry: Sendable {
    var id: String { get }
    var uid: UInt32 { get }
}

/// Admission of jobs (SPEC §8, §9), with no file system and no concurrency:
/// jobs wait in arrival order and start within `--max-jobs` and
/// `--max-jobs-per-user`; `--max-queued-per-user` bounds what one user may
/// have waiting or running. The supervisor owns one and asks it what to do;
/// tests drive it directly.
///
/// `Waiting` is what a queued job is (a claimed job with its settings),
/// `Running` what a started one is (its control, progress and identity too).
struct JobQueue<Waiting: QueueEntry, Running: QueueEntry>: Sendable {
    /// The daemon's limits.
    struct Limits: Sendable, Equatable {
        var maxJobs: Int
        var maxJobsPerUser: Int
        var maxQueuedPerUser: Int
    }

    let limits: Limits
    /// Claimed jobs not started yet, in arrival order.
    private(set) var waiting: [Waiting] = []
    /// Started jobs by ID.
    private(set) var running: [String: Running] = [:]
    /// Running jobs per submitter, kept with `running`.
    private var runningPerUser: [UInt32: Int] = [:]

    init(limits: Limits) {
        self.limits = limits
    }

    /// No job waits or runs.
    var isEmpty: Bool { waiting.isEmpty && running.isEmpty }

    /// Jobs of `uid` waiting or running.
    func count(of uid: UInt32) -> Int {
        waiting.count { $0.uid == uid } + runningPerUser[uid, default: 0]
    }

    /// Whether `id` waits or runs here.
    func contains(_ id: String) -> Bool {
        running[id] != nil || waiting.contains { $0.id == id }
    }

    /// Every ID waiting or running.
    var ids: Set<String> { Set(waiting.map(\.id)).union(running.keys) }

    /// Why a job was not admitted.
    enum Refusal: Equatable {
        /// Its user has `count` jobs waiting or running already (`--max-queued-per-user`).
        case queueFull(count: Int)
    }

    /// Queues `job` at the end, unless its user is at `--max-queued-per-user`.
    /// - Returns: why it was refused, or `nil` when it was queued.
    mutating func admit(_ job: Waiting) -> Refusal? {
        let count = count(of: job.uid)
        guard count < limits.maxQueuedPerUser else { return .queueFull(count: count) }
        waiting.append(job)
        return nil
    }

    /// Queues `job` whatever the limits: a job found again by recovery was admitted before.
    mutating func readmit(_ job: Waiting) {
        waiting.append(job)
    }

    /// The first waiting job that may start now: the earliest whose user is
    /// under `--max-jobs-per-user`, while fewer than `--max-jobs` run.
    func nextToStart() -> Waiting? {
        guard running.count < limits.maxJobs else { return nil }
        return waiting.first { runningPerUser[$0.uid, default: 0] < limits.maxJobsPerUser }
    }

    /// Moves waiting job `id` to running, as `job`.
    mutating func start(_ id: String, as job: Running) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else {
            fatalError("JobQueue.start: job \(id) is not waiting")
        }
        precondition(job.id == id, "JobQueue.start: job \(job.id) started for \(id)")
        waiting.remove(at: index)
        running[id] = job
        runningPerUser[job.uid, default: 0] += 1
    }

    /// Takes waiting job `id` out of the queue (a cancel before it started).
    mutating func removeWaiting(_ id: String) -> Waiting? {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return nil }
        return waiting.remove(at: index)
    }

    /// Running job `id` ended.
    /// - Returns: the job; `nil` if it was not running.
    mutating func ended(_ id: String) -> Running? {
        guard let job = running.removeValue(forKey: id) else { return nil }
        let left = runningPerUser[job.uid, default: 1] - 1
        runningPerUser[job.uid] = left > 0 ? left : nil
        return job
    }

    /// The waiting job `id`, if any.
    func waitingJob(_ id: String) -> Waiting? {
        waiting.first { $0.id == id }
    }
}
