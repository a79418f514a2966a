import Testing
@testable import GatherDaemon

/// Admission without a file system: arrival order, `--max-jobs`,
/// `--max-jobs-per-user` and `--max-queued-per-user` (SPEC §8, §9).
@Suite struct JobQueueTests {
    struct Job: QueueEntry, Equatable {
        let id: String
        let uid: UInt32
    }

    typealias Queue = JobQueue<Job, Job>

    /// Starts every job the queue lets start now; returns their IDs in order.
    func startAll(_ queue: inout Queue) -> [String] {
        var started: [String] = []
        while let next = queue.nextToStart() {
            queue.start(next.id, as: next)
            started.append(next.id)
        }
        return started
    }

    @Test func startsInArrivalOrderWithinMaxJobs() {
        var queue = Queue(limits: .init(maxJobs: 2, maxJobsPerUser: 10, maxQueuedPerUser: 100))
        for (n, uid) in [(1, 7), (2, 8), (3, 7)] { #expect(queue.admit(Job(id: "j\(n)", uid: UInt32(uid))) == nil) }
        #expect(startAll(&queue) == ["j1", "j2"])
        #expect(queue.ended("j2") == Job(id: "j2", uid: 8))
        #expect(startAll(&queue) == ["j3"])
        #expect(queue.ended("nope") == nil)
    }

    @Test func aUserAtItsLimitDoesNotHoldUpTheOthers() {
        var queue = Queue(limits: .init(maxJobs: 10, maxJobsPerUser: 1, maxQueuedPerUser: 100))
        for (id, uid) in [("a1", 1), ("a2", 1), ("b1", 2), ("a3", 1), ("b2", 2)] {
            _ = queue.admit(Job(id: id, uid: UInt32(uid)))
        }
        #expect(startAll(&queue) == ["a1", "b1"])
        _ = queue.ended("a1")
        #expect(startAll(&queue) == ["a2"])
        _ = queue.ended("b1")
        _ = queue.ended("a2")
        #expect(startAll(&queue) == ["a3", "b2"])  // arrival order once both may run
    }

    @Test func queueFullCountsWaitingAndRunning() {
        var queue = Queue(limits: .init(maxJobs: 1, maxJobsPerUser: 1, maxQueuedPerUser: 2))
        #expect(queue.admit(Job(id: "x1", uid: 5)) == nil)
        #expect(startAll(&queue) == ["x1"])
        #expect(queue.admit(Job(id: "x2", uid: 5)) == nil)
        #expect(queue.admit(Job(id: "x3", uid: 5)) == .queueFull(count: 2))
        #expect(queue.admit(Job(id: "y1", uid: 6)) == nil)
        // Recovery re-queues what was admitted before, whatever the limit.
        queue.readmit(Job(id: "x4", uid: 5))
        #expect(queue.count(of: 5) == 3)
        _ = queue.ended("x1")
        #expect(queue.count(of: 5) == 2)
    }

    @Test func aWaitingJobCanBeTakenOut() {
        var queue = Queue(limits: .init(maxJobs: 0, maxJobsPerUser: 1, maxQueuedPerUser: 9))
        _ = queue.admit(Job(id: "w1", uid: 1))
        _ = queue.admit(Job(id: "w2", uid: 1))
        #expect(queue.nextToStart() == nil)  // --max-jobs 0 starts nothing
        #expect(queue.removeWaiting("w1") == Job(id: "w1", uid: 1))
        #expect(queue.removeWaiting("w1") == nil)
        #expect(queue.ids == ["w2"])
        #expect(queue.contains("w2") && !queue.contains("w1"))
        _ = queue.removeWaiting("w2")
        #expect(queue.isEmpty)
    }
}
