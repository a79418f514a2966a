// watch-bench: how fast a job file renamed into incoming/ becomes a SpoolEvent
// in async Swift, and how many renames a second the watcher keeps up with,
// counting every event so that a lost one fails the run.
//
//   watch-bench --small   200 files (CI)      watch-bench --full   5,000 files
import Foundation
import GatherDaemon

let full = CommandLine.arguments.contains("--full")
let count = full ? 5_000 : 200

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("watch-bench: \(message)\n".utf8))
    exit(1)
}

/// A fresh spool with `count` small job files waiting in staging/.
func makeSpool() -> (root: String, incoming: String, cancel: String, staging: String) {
    let root = NSTemporaryDirectory() + "/watch-bench-" + UUID().uuidString
    let paths = (root, root + "/incoming", root + "/cancel", root + "/staging")
    do {
        for path in [paths.1, paths.2, paths.3] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        for index in 0..<count {
            try Data(#"{"tasks":[]}"#.utf8).write(to: URL(fileURLWithPath: paths.3 + "/\(index)"))
        }
    } catch {
        fail("cannot make a spool: \(error)")
    }
    return paths
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
}

func formatted(_ value: Double, _ digits: Int = 3) -> String {
    String(format: "%.\(digits)f", value)
}

// 1. Latency, one file at a time: rename, then wait for its event.
do {
    let spool = makeSpool()
    defer { try? FileManager.default.removeItem(atPath: spool.root) }
    let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
    try watcher.start()
    var iterator = watcher.events.makeAsyncIterator()
    var latencies: [Duration] = []
    latencies.reserveCapacity(count)
    for index in 0..<count {
        let started = ContinuousClock.now
        guard rename(spool.staging + "/\(index)", spool.incoming + "/job-\(index).json") == 0 else {
            fail("rename: \(String(cString: strerror(errno)))")
        }
        guard let event = await iterator.next() else { fail("the stream ended early") }
        latencies.append(ContinuousClock.now - started)
        guard event == .incoming(name: SpoolEntryName("job-\(index).json"), kind: .renamedIn) else {
            fail("expected job-\(index).json, got \(event)")
        }
    }
    watcher.stop()
    let sorted = latencies.sorted()
    let p50 = milliseconds(sorted[sorted.count / 2])
    let p99 = milliseconds(sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
    print("rename → event in async Swift, \(count) files one at a time:"
        + " p50 \(formatted(p50)) ms, p99 \(formatted(p99)) ms, max \(formatted(milliseconds(sorted.last ?? .zero))) ms")
} catch {
    fail("\(error)")
}

// 2. Throughput: rename `count` files as fast as possible while a task counts events.
do {
    let spool = makeSpool()
    defer { try? FileManager.default.removeItem(atPath: spool.root) }
    let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
    try watcher.start()
    let started = ContinuousClock.now
    let (seen, rescans, finished) = await withTaskGroup(of: (Set<String>, Int, ContinuousClock.Instant).self) { group in
        group.addTask {
            var names = Set<String>()
            var rescans = 0
            for await event in watcher.events {
                switch event {
                case .incoming(let name, _): names.insert(name.description)
                case .rescan: rescans += 1
                case .cancelRequest, .pauseChanged: break
                }
                if names.count == count { break }
            }
            return (names, rescans, ContinuousClock.now)
        }
        for index in 0..<count {
            if rename(spool.staging + "/\(index)", spool.incoming + "/burst-\(index).json") != 0 {
                fail("rename: \(String(cString: strerror(errno)))")
            }
        }
        let renamed = ContinuousClock.now
        // Generous: a lost event shows as a time-out here, not as a hang.
        group.addTask {
            try? await Task.sleep(for: .seconds(10))
            return ([], -1, renamed)
        }
        let result = await group.next() ?? ([], -1, renamed)
        group.cancelAll()
        return result
    }
    watcher.stop()
    let lost = count - seen.count
    let elapsed = milliseconds(finished - started)
    print("burst of \(count) renames: \(seen.count) events, \(lost) lost, \(max(rescans, 0)) rescans,"
        + " \(Int(Double(seen.count) / (elapsed / 1e3))) events/s (\(formatted(elapsed, 1)) ms)")
    if lost != 0 || rescans < 0 { fail("events were lost") }
} catch {
    fail("\(error)")
}
