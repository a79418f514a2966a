import GatherSystem
import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// Talks to the service manager over `$NOTIFY_SOCKET` (`Type=notify`, SPEC §9).
///
/// Every call is a no-op when gatherd is not run by systemd (no `NOTIFY_SOCKET`).
/// Nothing throws: a failed notification is reported as the errno, and the
/// daemon goes on. The supervisor actor calls ``watchdogPing()`` itself every
/// ``watchdogInterval`` so that a stuck actor is what systemd catches.
public struct SystemdNotifier: Sendable {
    /// The result of one notification.
    public enum Delivery: Sendable, Equatable {
        /// Sent to the service manager.
        case sent
        /// No `NOTIFY_SOCKET`: not run by systemd as `Type=notify`.
        case notSupervised
        /// Sending failed with this errno.
        case failed(Int32)
    }

    public init() {}

    /// `READY=1`: recovery, the first scan and the watch are in place.
    @discardableResult
    public func ready(status: String? = nil) -> Delivery {
        notify(["READY=1"] + (status.map { ["STATUS=\($0)"] } ?? []))
    }

    /// `STATUS=` — one line, e.g. `2 jobs running (7 tasks), 40 done, 3 failed, 1 rejected`.
    /// Newlines are replaced by spaces: the protocol is one assignment a line.
    @discardableResult
    public func status(_ text: String) -> Delivery {
        notify(["STATUS=" + text.replacingNewlines()])
    }

    /// `STOPPING=1`, with an optional status line.
    @discardableResult
    public func stopping(status: String? = nil) -> Delivery {
        notify(["STOPPING=1"] + (status.map { ["STATUS=\($0.replacingNewlines())"] } ?? []))
    }

    /// `EXTEND_TIMEOUT_USEC=`: asks for `duration` more before systemd gives up on
    /// the stop (SPEC §9: the longest remaining grace + 10 s).
    @discardableResult
    public func extendTimeout(_ duration: Duration) -> Delivery {
        notify(["EXTEND_TIMEOUT_USEC=\(Self.microseconds(duration))"])
    }

    /// `WATCHDOG=1`.
    @discardableResult
    public func watchdogPing() -> Delivery {
        notify(["WATCHDOG=1"])
    }

    /// How often to send ``watchdogPing()``: half of `WATCHDOG_USEC`, or `nil` when
    /// the watchdog is off or `WATCHDOG_PID` names another process.
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        // sd_watchdog_enabled checks WATCHDOG_PID against getpid() and parses WATCHDOG_USEC.
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(clamping: usec / 2))
    }

    /// Sends `assignments` as one datagram.
    @discardableResult
    public func notify(_ assignments: [String]) -> Delivery {
        let message = assignments.joined(separator: "\n")
        // An interrupted sendmsg sent nothing: it is retried.
        switch SystemCall.callReturningNegativeError({ message.withCString { sd_notify(0, $0) } }) {
        case .success(0): return .notSupervised
        case .success: return .sent
        case .failure(let errno): return .failed(errno.rawValue)
        }
    }

    static func microseconds(_ duration: Duration) -> UInt64 {
        let (seconds, atto) = duration.components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000 + UInt64(atto / 1_000_000_000_000)
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        String(map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
