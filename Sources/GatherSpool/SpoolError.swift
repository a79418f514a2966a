import GatherSystem

/// An error of the spool: a ``Code`` saying what failed, the errno when a
/// system call failed, and context. `description` is the line a person reads
/// (`spool write error: write active/x/.result.json.tmp: No space left on device`).
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    /// What kind of thing failed.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// A spool directory failed the start-up safety checks (SPEC §3).
        public static let unsafeDirectory = Code(name: "unsafe spool directory")
        /// A record or state file could not be written; retry later (SPEC §3).
        public static let recordWrite = Code(name: "spool write error")
        /// Another daemon holds the spool (``SpoolDirectory/lockForDaemon()``).
        public static let inUse = Code(name: "spool in use")
        /// Any other system call failure.
        public static let io = Code(name: "spool error")
        /// A stored file (`state.json`, `result.json`) could not be understood.
        public static let corrupt = Code(name: "spool file unreadable")
        /// A fault injected by a test (``SpoolFaultPoint``).
        public static let injected = Code(name: "injected fault")
    }

    public let code: Code
    /// What was being done, e.g. `write active/x/result.json`.
    public let context: String
    /// The errno of the failed call, if one failed.
    public let errno: Errno?
    /// A rejection's record that could not be written: the caller keeps it and
    /// writes it later with ``SpoolDirectory/finish(_:)`` (recovery could not
    /// tell again why the file was rejected, e.g. for its name).
    public internal(set) var record: JobRecord?

    public init(_ code: Code, _ context: String, errno: Int32? = nil) {
        self.code = code
        self.context = context
        self.errno = errno.map { Errno($0) }
    }

    /// Whether the failure is the kind a retry later may cure (no space, I/O, read-only).
    public var isRetryable: Bool { code == .recordWrite }

    public var description: String {
        var line = "\(code): \(context)"
        if let errno { line += ": \(errno)" }
        return line
    }

    /// The same error, re-labelled with `code` (a write during a record is a record write error).
    func relabelled(_ code: Code) -> SpoolError {
        var error = SpoolError(code, context, errno: errno?.rawValue)
        error.record = record
        return error
    }
}
