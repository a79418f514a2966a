import Synchronization
import Gather

/// A one-shot latch: tasks wait until it is opened. Used instead of sleeps to
/// order events deterministically.
final class Latch: Sendable {
    private struct State {
        var open = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// Collects events and values from many tasks.
final class Recorder<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var all: [Element] { items.withLock { $0 } }
}

/// Counts tasks running at once and remembers the highest count.
final class ConcurrencyGauge: Sendable {
    private let state = Mutex((now: 0, max: 0))
    func enter() { state.withLock { $0.now += 1; $0.max = Swift.max($0.max, $0.now) } }
    func leave() { state.withLock { $0.now -= 1 } }
    var maximum: Int { state.withLock { $0.max } }
}

/// A task body's error with a fixed description.
struct Boom: Error, CustomStringConvertible {
    let text: String
    init(_ text: String) { self.text = text }
    var description: String { text }
}

struct OtherError: Error, CustomStringConvertible {
    var description: String { "other" }
}

/// A body that ignores Swift cancellation and ends only through its stop hook,
/// like a child process that must be signalled.
func stubbornBody(_ stops: Recorder<StopRequest>) -> @Sendable (GatherAttempt) async throws -> Int {
    { attempt in
        let latch = Latch()
        attempt.onStop { request in
            stops.append(request)
            latch.open()
        }
        await latch.wait()
        return 143
    }
}

extension GatheredResults {
    func result(_ name: String) -> TaskResult? { tasks.first { $0.name == name } }
}
