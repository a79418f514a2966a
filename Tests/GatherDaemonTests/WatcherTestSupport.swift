import Foundation
import Synchronization
import Testing
@testable import GatherDaemon

/// A temporary spool with `incoming/`, `cancel/` and a `staging/` directory on
/// the same filesystem to build entries in before renaming or linking them in.
final class TemporarySpool: Sendable {
    let root: String
    var incoming: String { root + "/incoming" }
    var cancel: String { root + "/cancel" }
    var staging: String { root + "/staging" }

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/gatherd-watch-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let path = try #require(made.map { String(cString: $0) })
        root = path
        for sub in ["incoming", "cancel", "staging"] {
            try FileManager.default.createDirectory(atPath: path + "/" + sub, withIntermediateDirectories: false)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes `staging/NAME` and renames it to `DIR/TARGET` (the way a user drops).
    func drop(_ target: String, into directory: String, content: String = "{}") throws {
        let temporary = staging + "/" + UUID().uuidString
        try Data(content.utf8).write(to: URL(fileURLWithPath: temporary))
        #expect(rename(temporary, directory + "/" + target) == 0, "rename: \(String(cString: strerror(errno)))")
    }

    /// Creates, writes and closes `DIR/NAME` in place.
    func write(_ name: String, in directory: String, content: String = "{}") {
        let fd = open(directory + "/" + name, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644)
        #expect(fd >= 0, "open \(name): \(String(cString: strerror(errno)))")
        _ = content.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
    }
}

/// Consumes a stream in a child task until `done` says enough or the time is
/// up, and returns what arrived. Cancelling the consumer on time-out ends the
/// stream (and stops its source), so use it once per stream.
func collect<Event: Sendable>(
    _ stream: AsyncStream<Event>, timeout: Duration = .seconds(5),
    until done: @escaping @Sendable ([Event]) -> Bool
) async -> [Event] {
    let seen = SeenEvents<Event>()
    await withTaskGroup(of: Void.self) { group in
        group.addTask {
            for await event in stream {
                if seen.append(event, done) { return }
            }
        }
        group.addTask { try? await Task.sleep(for: timeout) }
        await group.next()
        group.cancelAll()
    }
    return seen.all
}

final class SeenEvents<Event: Sendable>: Sendable {
    private let events = Mutex<[Event]>([])
    /// Appends and reports whether the collection is complete.
    func append(_ event: Event, _ done: ([Event]) -> Bool) -> Bool {
        events.withLock { events in
            events.append(event)
            return done(events)
        }
    }
    var all: [Event] { events.withLock { $0 } }
}

extension SpoolEvent {
    var name: SpoolEntryName? {
        switch self {
        case .incoming(let name, _), .cancelRequest(let name): name
        case .rescan, .pauseChanged: nil
        }
    }
}
