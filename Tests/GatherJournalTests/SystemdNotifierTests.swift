import Foundation
import GatherJournal
import GatherTestSupport
import Testing

/// The notifier against a notify socket the test binds itself, as systemd
/// would for `Type=notify`. NOTIFY_SOCKET and WATCHDOG_* are process-wide, so
/// the suite is serialized and restores them.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct SystemdNotifierTests {
    static func withEnvironment<T>(_ values: [String: String?], _ body: () throws -> T) rethrows -> T {
        let saved = values.keys.map { ($0, ProcessInfo.processInfo.environment[$0]) }
        for (name, value) in values {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
        defer {
            for (name, value) in saved {
                if let value { setenv(name, value, 1) } else { unsetenv(name) }
            }
        }
        return try body()
    }

    @Test func messagesArriveAsSystemdSeesThem() throws {
        let receiver = try NotifyReceiver()
        let notifier = SystemdNotifier()
        try Self.withEnvironment(["NOTIFY_SOCKET": receiver.path]) {
            #expect(notifier.ready(status: "0 jobs running") == .sent)
            let ready = try #require(receiver.receive())
            #expect(ready.map(\.name) == ["READY", "STATUS"])
            #expect(ready.map(\.value) == ["1", "0 jobs running"])

            notifier.status("2 jobs running (7 tasks),\n40 done")
            #expect(try #require(receiver.receive()).first?.value == "2 jobs running (7 tasks), 40 done")

            notifier.watchdogPing()
            #expect(try #require(receiver.receive()).map { "\($0.name)=\($0.value)" } == ["WATCHDOG=1"])

            notifier.stopping(status: "stopping: 2 jobs")
            #expect(try #require(receiver.receive()).map { "\($0.name)=\($0.value)" } == ["STOPPING=1", "STATUS=stopping: 2 jobs"])

            notifier.extendTimeout(.seconds(15) + .milliseconds(250))
            #expect(try #require(receiver.receive()).map { "\($0.name)=\($0.value)" } == ["EXTEND_TIMEOUT_USEC=15250000"])
        }
    }

    @Test func withoutNotifySocketNothingIsSent() {
        Self.withEnvironment(["NOTIFY_SOCKET": nil]) {
            #expect(SystemdNotifier().ready() == .notSupervised)
        }
    }

    @Test func aMissingSocketIsReportedNotThrown() {
        Self.withEnvironment(["NOTIFY_SOCKET": "/nonexistent-\(UUID().uuidString)/notify"]) {
            #expect(SystemdNotifier().status("x") == .failed(ENOENT))
        }
    }

    @Test func watchdogIntervalIsHalfOfWatchdogUsec() {
        let pid = String(getpid())
        Self.withEnvironment(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": pid]) {
            #expect(SystemdNotifier().watchdogInterval == .seconds(15))
        }
        Self.withEnvironment(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": nil]) {
            #expect(SystemdNotifier().watchdogInterval == .seconds(15))
        }
        // WATCHDOG_PID naming another process: the watchdog is not ours to feed.
        Self.withEnvironment(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"]) {
            #expect(SystemdNotifier().watchdogInterval == nil)
        }
        Self.withEnvironment(["WATCHDOG_USEC": nil, "WATCHDOG_PID": nil]) {
            #expect(SystemdNotifier().watchdogInterval == nil)
        }
    }
}
