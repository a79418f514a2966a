import Testing
@testable import GatherProcess

@Suite struct TimerQueueTests {
    /// Timers come out by due time, those due together in the order added,
    /// and only those due by `now`.
    @Test func timersComeOutByDueTimeThenByOrderAdded() {
        var queue = TimerQueue<Int>()
        var rng = SystemRandomNumberGenerator()
        var expected: [(due: UInt64, id: Int)] = []
        for id in 0..<2_000 {
            let due = UInt64.random(in: 0..<300, using: &rng)
            queue.add(due: due, id)
            expected.append((due, id))
        }
        expected.sort { $0.due != $1.due ? $0.due < $1.due : $0.id < $1.id }
        #expect(queue.nextDue == expected.first?.due)
        let early = queue.takeDue(now: 99)
        #expect(early == expected.filter { $0.due <= 99 }.map(\.id))
        #expect(queue.count == expected.filter { $0.due > 99 }.count)
        let rest = queue.takeDue(now: .max)
        #expect(rest == expected.filter { $0.due > 99 }.map(\.id))
        #expect(queue.isEmpty && queue.nextDue == nil)
    }

    @Test func addingReportsWhetherTheTimerIsNowTheEarliest() {
        var queue = TimerQueue<String>()
        let earliest = [queue.add(due: 50, "a"), queue.add(due: 60, "b"), queue.add(due: 50, "c"), queue.add(due: 10, "d")]
        // A tie ("c") does not go before the one added first.
        #expect(earliest == [true, false, false, true])
        #expect(queue.takeDue(now: 55) == ["d", "a", "c"])
    }
}
