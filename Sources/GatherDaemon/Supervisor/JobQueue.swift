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

    /// One user's waiting jobs, oldest first, each with its arrival number.
    /// Taken from the front without moving the rest (`head`), so a burst of
    /// 10,000 jobs costs no more per job than one.
    private struct UserQueue: Sendable {
        var entries: [(arrival: UInt64, job: Waiting)?] = []
        var head = 0
        var count = 0

        var first: (arrival: UInt64, job: Waiting)? {
            var index = head
            while index < entries.count {
                if let entry = entries[index] { return entry }
                index += 1
            }
            return nil
        }

        mutating func append(_ job: Waiting, arrival: UInt64) {
            entries.append((arrival, job))
            count += 1
        }

        /// Takes out `id`: the first entry in the usual case, a search for a cancel.
        mutating func remove(_ id: String) -> Waiting? {
            guard let index = entries[head...].firstIndex(where: { $0?.job.id == id }), let entry = entries[index] else {
                return nil
            }
            entries[index] = nil
            count -= 1
            while head < entries.count, entries[head] == nil { head += 1 }
            // Give the space of taken entries back once they are most of it.
            if head > 64, head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
            return entry.job
        }

        func job(_ id: String) -> Waiting? {
            entries[head...].lazy.compactMap { $0 }.first { $0.job.id == id }?.job
        }
    }

    let limits: Limits
    /// Claimed jobs not started yet, per submitter.
    private var queues: [UInt32: UserQueue] = [:]
    /// Waiting job IDs and their submitters.
    private var waitingUsers: [String: UInt32] = [:]
    /// The next arrival number.
    private var arrivals: UInt64 = 0
    /// Started jobs by ID.
    private(set) var running: [String: Running] = [:]
    /// Running jobs per submitter, kept with `running`.
    private var runningPerUser: [UInt32: Int] = [:]

    init(limits: Limits) {
        self.limits = limits
    }

    /// No job waits or runs.
    var isEmpty: Bool { waitingUsers.isEmpty && running.isEmpty }

    /// Jobs of `uid` waiting or running.
    func count(of uid: UInt32) -> Int {
        (queues[uid]?.count ?? 0) + runningPerUser[uid, default: 0]
    }

    /// Jobs waiting to start.
    var waitingCount: Int { waitingUsers.count }

    /// Whether `id` waits to start.
    func isWaiting(_ id: String) -> Bool { waitingUsers[id] != nil }

    /// Whether `id` waits or runs here.
    func contains(_ id: String) -> Bool {
        running[id] != nil || waitingUsers[id] != nil
    }

    /// Every ID waiting or running.
    var ids: Set<String> { Set(waitingUsers.keys).union(running.keys) }

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
        readmit(job)
        return nil
    }

    /// Queues `job` whatever the limits: a job found again by recovery was admitted before.
    mutating func readmit(_ job: Waiting) {
        queues[job.uid, default: UserQueue()].append(job, arrival: arrivals)
        arrivals += 1
        waitingUsers[job.id] = job.uid
    }

    /// The first waiting job that may start now: the earliest whose user is
    /// under `--max-jobs-per-user`, while fewer than `--max-jobs` run. It
    /// looks at each user's oldest job only: its cost grows with the number
    /// of users waiting, not of jobs.
    func nextToStart() -> Waiting? {
        guard running.count < limits.maxJobs else { return nil }
        var best: (arrival: UInt64, job: Waiting)?
        for (uid, queue) in queues where runningPerUser[uid, default: 0] < limits.maxJobsPerUser {
            guard let first = queue.first else { continue }
            if best == nil || first.arrival < best!.arrival { best = first }
        }
        return best?.job
    }

    /// Moves waiting job `id` to running, as `job`.
    mutating func start(_ id: String, as job: Running) {
        guard removeWaiting(id) != nil else {
            fatalError("JobQueue.start: job \(id) is not waiting")
        }
        precondition(job.id == id, "JobQueue.start: job \(job.id) started for \(id)")
        running[id] = job
        runningPerUser[job.uid, default: 0] += 1
    }

    /// Takes waiting job `id` out of the queue (a cancel before it started).
    mutating func removeWaiting(_ id: String) -> Waiting? {
        guard let uid = waitingUsers[id], let job = queues[uid]?.remove(id) else { return nil }
        waitingUsers[id] = nil
        if queues[uid]?.count == 0 { queues[uid] = nil }
        return job
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
        guard let uid = waitingUsers[id] else { return nil }
        return queues[uid]?.job(id)
    }
}
