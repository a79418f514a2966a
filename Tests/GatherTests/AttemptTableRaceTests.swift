import Testing
import Synchronization
import Foundation
@testable import Gather

// The attempt table's fast path (the end of a body) takes no lock; these race
// each locked operation against it on two threads, round after round, with
// the second thread's start swept through the first one's critical section.

/// Spins until `ready`, yielding the processor now and then: with the suite's
/// other tests beside them on two cores, the partner thread may be waiting
/// for one.
private func waitUntil(_ ready: () -> Bool) {
    var spins = 0
    while !ready() {
        spins += 1
        if spins % 256 == 0 { sched_yield() }
    }
}

private final class Box<T>: @unchecked Sendable { var value: T; init(_ v: T) { value = v } }

/// Runs `a` and `b` on two threads, `rounds` times, starting each round together;
/// `b` is delayed by a varying spin so that it sweeps through `a`'s critical
/// section; `after` runs once both are done.
private func race(rounds: Int, setup: @escaping @Sendable (Int) -> Void,
                  a: @escaping @Sendable (Int) -> Void, b: @escaping @Sendable (Int) -> Void,
                  after: @escaping @Sendable (Int) -> Void = { _ in }) {
    let turn = Atomic<Int>(-1)
    let done = Atomic<Int>(0)
    let finished = Atomic<Bool>(false)
    let threadA = Thread {
        for r in 0..<rounds {
            waitUntil { turn.load(ordering: .acquiring) == r }
            a(r)
            done.add(1, ordering: .releasing)
        }
    }
    let threadB = Thread {
        for r in 0..<rounds {
            setup(r)
            turn.store(r, ordering: .releasing)
            var spin = 0
            let limit = (r &* 7919) % 600
            while spin < limit { spin += 1; _ = turn.load(ordering: .relaxed) }
            b(r)
            waitUntil { done.load(ordering: .acquiring) == r + 1 }
            after(r)
        }
        finished.store(true, ordering: .releasing)
    }
    threadA.start(); threadB.start()
    while !finished.load(ordering: .acquiring) { usleep(1000) }
}

/// Round `r` runs attempt `2r + 1` of task 0: `late` (an operation on that
/// attempt from another thread) races its body's end and the start of its
/// retry, `2r + 2`; then `after` looks at the retry.
private func raceAgainstRetry(
    rounds: Int, _ table: AttemptTable, late: @escaping @Sendable (Int) -> Void,
    after: @escaping @Sendable (Int) -> Void
) {
    race(rounds: rounds, setup: { r in table.begin(0, 2 * r + 1) },
         a: { r in late(2 * r + 1) },
         b: { r in
             _ = table.markFinished(0, 2 * r + 1)
             table.begin(0, 2 * r + 2)  // the retry starts
         },
         after: { r in after(2 * r + 2) })
}

@Suite("Attempt table races") struct AttemptTableRaceTests {
    /// requestStop (the loop) racing the child's lock-free markFinished: requestStop
    /// may return true (and record the request) while markFinished reported no stop.
    @Test func requestStopAndMarkFinishedAgree() {
        let rounds = 50_000
        let table = AttemptTable(names: ["t"])
        let bad = Atomic<Int>(0)
        let accepted = Box(false)
        let sawStop = Box(false)
        race(rounds: rounds, setup: { r in table.begin(0, r + 1) },
             a: { r in accepted.value = table.requestStop(0, r + 1, .cancelled(.cancelledByRequest)) },
             b: { r in sawStop.value = table.markFinished(0, r + 1).stopRequested },
             after: { _ in if accepted.value && !sawStop.value { bad.add(1, ordering: .relaxed) } })
        #expect(bad.load(ordering: .relaxed) == 0, "requestStop accepted but markFinished saw no stop, in that many of \(rounds) rounds")
    }

    /// onStop from another thread racing the body's return and the retry's begin:
    /// attempt N's hook must never be run by a stop of attempt N+1.
    @Test func aLateHookDoesNotLeakIntoTheNextAttempt() {
        let rounds = 50_000
        let table = AttemptTable(names: ["t"])
        let leaked = Atomic<Int>(0)
        raceAgainstRetry(rounds: rounds, table,
             late: { attempt in table.onStop(0, attempt) { _ in leaked.add(1, ordering: .relaxed) } },
             after: { retry in _ = table.requestStop(0, retry, .cancelled(.cancelledByRequest)) })
        #expect(leaked.load(ordering: .relaxed) == 0, "attempt N's hook run by a stop of attempt N+1, in that many of \(rounds) rounds")
    }

    /// workEnded from another thread (a process-exit callback) racing the body's
    /// return and the retry's begin: the retry must stay stoppable and keep its own duration.
    @Test func aLateWorkEndedDoesNotEndTheNextAttempt() {
        let rounds = 50_000
        let table = AttemptTable(names: ["t"])
        let broken = Atomic<Int>(0)
        raceAgainstRetry(rounds: rounds, table,
             late: { attempt in _ = table.workEnded(0, attempt) },
             after: { retry in
                 let stoppable = table.requestStop(0, retry, .cancelled(.cancelledByRequest))
                 let (requested, ended) = table.markFinished(0, retry)
                 if !stoppable || !requested || ended != nil { broken.add(1, ordering: .relaxed) }
             })
        #expect(broken.load(ordering: .relaxed) == 0, "retry made unstoppable / given the earlier attempt's end, in that many of \(rounds) rounds")
    }
}
