/// What a child task of a gathered group returns to the loop. Not generic: an
/// attempt's value, and its error, go to ``AttemptResults``, where the loop reads
/// them. A plain struct of integers rather than an enum with payloads: the
/// runtime copies each child's result through value witnesses, and a trivial
/// type is copied as bytes (a multi-payload enum holding an existential cost an
/// outlined copy and a case lookup per attempt). 24 bytes.
@usableFromInline
struct GatherMessage: Sendable {
    @usableFromInline
    enum Kind: UInt8, Sendable {
        case attemptEnded
        case timer
        case mailbox
    }

    @usableFromInline let kind: Kind
    /// For `attemptEnded`: the engine had asked the attempt to stop before it ended.
    @usableFromInline let stopRequested: Bool
    /// The task, for `attemptEnded`.
    @usableFromInline let task: Int32
    /// When the attempt began (``MonotonicTime``); for `timer`, the timer's id.
    @usableFromInline let began: Int64
    /// When the attempt ended (``MonotonicTime``).
    @usableFromInline let ended: Int64

    @inlinable
    init(kind: Kind, stopRequested: Bool = false, task: Int32 = 0, began: Int64 = 0, ended: Int64 = 0) {
        self.kind = kind
        self.stopRequested = stopRequested
        self.task = task
        self.began = began
        self.ended = ended
    }

    /// The task's index.
    @inlinable
    var index: Int { Int(task) }

    @inlinable
    static func attemptEnded(index: Int, stopRequested: Bool, began: Int64, ended: Int64) -> Self {
        Self(kind: .attemptEnded, stopRequested: stopRequested, task: Int32(truncatingIfNeeded: index), began: began, ended: ended)
    }

    @inlinable
    static func timer(id: Int64) -> Self {
        Self(kind: .timer, began: id)
    }

    @inlinable
    static var mailbox: Self { Self(kind: .mailbox) }
}
