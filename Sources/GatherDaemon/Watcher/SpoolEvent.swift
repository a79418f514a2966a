import GatherSpool

/// A name found in a spool directory, as the raw bytes the kernel gave.
///
/// File names are bytes, not text: a user may drop a name that is not valid
/// UTF-8, and the spool must still claim (and reject) exactly that entry, so
/// the bytes are kept and `string` is only offered when it round-trips.
public struct SpoolEntryName: Hashable, Sendable, Comparable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The name's bytes, without a terminating NUL.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public init(_ string: String) { self.bytes = Array(string.utf8) }

    public init(stringLiteral value: String) { self.init(value) }

    /// The name as text when its bytes are valid UTF-8, else `nil`.
    public var string: String? { String(validating: bytes, as: UTF8.self) }

    /// For logs: the text, with invalid bytes shown as U+FFFD.
    public var description: String { String(decoding: bytes, as: UTF8.self) }

    /// Calls `body` with the name as a C string (for `openat`, `renameat`…).
    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (bytes.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { buffer in
            try body(buffer.baseAddress!)
        }
    }

    public static func < (lhs: SpoolEntryName, rhs: SpoolEntryName) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    /// SPEC §3: a name in `incoming/` is a job file only if it does not start
    /// with `.` and ends in `.json`; anything else is left alone.
    public var isClaimableJobFile: Bool { JobID.isCandidate(bytes) }

    /// SPEC §3: in `cancel/`, names starting with `.` are someone's temporary
    /// file and are left alone.
    public var isCancelRequest: Bool {
        !bytes.isEmpty && bytes.first != UInt8(ascii: ".")
    }
}

/// How a job file came to be noticed in `incoming/` (SPEC §3).
public enum IncomingKind: String, Sendable, Hashable {
    /// `IN_MOVED_TO`: renamed into `incoming/` (the way `gatherctl submit` drops).
    case renamedIn = "renamed-in"
    /// `IN_CLOSE_WRITE`: written in place and closed.
    case closedAfterWrite = "closed-after-write"
    /// `IN_CREATE` of something that is not a regular file being written: a
    /// symlink, FIFO, directory, socket or device, or a hard link (more than one
    /// link). Such an entry will never be "closed after writing", so it is
    /// reported at once, to be claimed and rejected.
    case createdNonRegular = "created-non-regular"
}

/// One thing the spool watcher saw. Events are hints, not facts: the same
/// name may be reported twice (written twice, or seen by a rescan too) and may
/// be gone by the time it is handled, so the consumer claims by name and treats
/// "no such file" as "already handled".
public enum SpoolEvent: Sendable, Hashable {
    /// A claimable name in `incoming/` (never a dotfile, always `*.json`).
    case incoming(name: SpoolEntryName, kind: IncomingKind)
    /// A name in `cancel/` (never a dotfile): a request to cancel job `name`.
    /// Whether it is honoured (owner, file type) is for the consumer to check.
    case cancelRequest(name: SpoolEntryName)
    /// Events were lost (the kernel's inotify queue overflowed, or the stream's
    /// own buffer was full): list both directories again with `SpoolScan`.
    case rescan
    /// The spool's `paused` file appeared or went (SPEC §3): look again.
    case pauseChanged
}
