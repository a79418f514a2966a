import GatherSystem

/// A failure of one of the daemon's event sources (the spool watcher, the
/// signal source, a spool scan). Its `description` is the line a person reads
/// in the journal, e.g. `spool watcher: cannot watch /srv/spool/incoming: No
/// such file or directory`.
public struct EventSourceError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a value that can grow without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// `inotify_init1`, opening a watched directory or `inotify_add_watch` failed.
        public static let watchSetup = Code("cannot watch")
        /// `poll` or `read` on the inotify descriptor failed.
        public static let watchRead = Code("cannot read events for")
        /// The kernel dropped a watch: the directory was deleted, moved away
        /// or its filesystem unmounted. Events from it can no longer arrive.
        public static let watchRemoved = Code("watch removed from")
        /// Listing a spool directory failed.
        public static let scan = Code("cannot list")
        /// A thread for the event source could not be started.
        public static let thread = Code("cannot start a thread for")
        /// Installing or restoring signal handlers failed.
        public static let signalSetup = Code("cannot handle signals")
        /// `start()` was called twice, or after `stop()`.
        public static let alreadyStarted = Code("already started or stopped:")
    }

    /// What failed.
    public let code: Code
    /// Which event source: "spool watcher", "spool scan" or "signals".
    public let source: String
    /// The directory (or other subject) involved, when there is one.
    public let subject: String?
    /// The errno of the failed system call, when there is one.
    public let errno: Errno?

    public init(_ code: Code, source: String, subject: String? = nil, errno: Errno? = nil) {
        self.code = code
        self.source = source
        self.subject = subject
        self.errno = errno
    }

    public var description: String {
        var text = "\(source): \(code.rawValue)"
        if let subject { text += " \(subject)" }
        if let errno { text += ": \(errno)" }
        return text
    }
}
