/// What a child task of a gathered group returns to the loop. Not generic: an
/// attempt's value, and its error, go to ``AttemptResults``, where the loop reads
/// them. A plain struct of integers rather than an enum with payloads: the
/// runtime copies each child's result through value witnesses, and a trivial
/// type is copied as bytes (a multi-payload enum holding an existential cost an
/// outlined copy and a case lookup per attempt).
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
    @usableFromInline let index: Int
    /// When the attempt began, or the instant a timer was armed for.
    @usableFromInline let began: ContinuousClock.Instant
    /// When the attempt ended (a timer: its instant again).
    @usableFromInline let ended: ContinuousClock.Instant

    @inlinable
    init(
        kind: Kind, stopRequested: Bool = false, index: Int, began: ContinuousClock.Instant,
        ended: ContinuousClock.Instant
    ) {
        self.kind = kind
        self.stopRequested = stopRequested
        self.index = index
        self.began = began
        self.ended = ended
    }

    @inlinable
    static func attemptEnded(
        index: Int, stopRequested: Bool, began: ContinuousClock.Instant, ended: ContinuousClock.Instant
    ) -> Self {
        Self(kind: .attemptEnded, stopRequested: stopRequested, index: index, began: began, ended: ended)
    }

    @inlinable
    static func timer(_ due: ContinuousClock.Instant) -> Self {
        Self(kind: .timer, index: 0, began: due, ended: due)
    }

    @inlinable
    static func mailbox(at now: ContinuousClock.Instant) -> Self {
        Self(kind: .mailbox, index: 0, began: now, ended: now)
    }
}
