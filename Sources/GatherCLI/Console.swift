import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// stdout and stderr through `write(2)`: Swift 6 does not let the C globals
/// `stdout`/`stderr` be used from concurrent code, and lines must reach a
/// pipe at once while `logs --follow` waits. stdout is buffered up to 64 KiB
/// so that thousands of log lines do not cost a system call each.
final class Console {
    private var pending: [UInt8] = []
    /// Whether stdout is a terminal (the live progress line of `--wait`).
    let isTerminal: Bool = isatty(1) == 1
    /// Set once stdout is a closed pipe (`gatherctl logs -f | head` when
    /// SIGPIPE is ignored): `logs --follow` stops instead of writing forever.
    private(set) var isClosed = false

    /// Queues `text` and a newline for stdout.
    func line(_ text: String) {
        pending.append(contentsOf: text.utf8)
        pending.append(UInt8(ascii: "\n"))
        if pending.count >= 65_536 { flush() }
    }

    /// Writes `text` to stdout unbuffered and without a newline (progress line).
    func raw(_ text: String) {
        flush()
        Self.writeAll(1, Array(text.utf8))
    }

    /// Writes what is queued for stdout.
    func flush() {
        guard !pending.isEmpty else { return }
        if Self.writeAll(1, pending) == Errno(EPIPE) { isClosed = true }
        pending.removeAll(keepingCapacity: true)
    }

    /// Writes `text` and a newline to stderr, after what is queued for stdout.
    func error(_ text: String) {
        flush()
        Self.writeAll(2, Array((text + "\n").utf8))
    }

    deinit { flush() }

    /// Writes every byte; a failure (a closed pipe) drops the rest, as
    /// there is nowhere left to say so.
    /// - Returns: the errno of a failed write, or `nil`.
    @discardableResult
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Errno? {
        SystemCall.writeAll(fd, bytes)
    }
}
