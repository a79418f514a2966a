import Gather

/// gatherctl's exit codes (SPEC §10). With several jobs the command exits
/// with the most serious one: a usage or system error first, then a job that
/// failed or was rejected, then one cancelled or interrupted, then success.
public enum CtlExit: Int32, Sendable {
    case success = 0
    /// A job failed or was rejected, validation found errors, or nothing was there to act on.
    case failed = 1
    /// A usage error or a system error (unreadable file, missing spool, journal not open).
    case error = 2
    /// A job was cancelled or interrupted.
    case cancelled = 3

    /// Ranks by precedence, not by number: 2 > 1 > 3 > 0.
    var severity: Int {
        switch self {
        case .success: return 0
        case .cancelled: return 1
        case .failed: return 2
        case .error: return 3
        }
    }

    /// The more serious of the two.
    func combined(with other: CtlExit) -> CtlExit {
        other.severity > severity ? other : self
    }

    /// The most serious of `codes`; `success` when there are none.
    static func worst(_ codes: [CtlExit]) -> CtlExit {
        codes.reduce(.success) { $0.combined(with: $1) }
    }

    /// The code of a job that ended in `state`. (A record this version
    /// cannot read has no state: that is a system error, not a job outcome.)
    init(jobState state: JobState) {
        switch state {
        case .succeeded: self = .success
        case .failed, .rejected: self = .failed
        case .cancelled, .interrupted: self = .cancelled
        }
    }
}

/// An error gatherctl reports on stderr as `gatherctl: …` and exits with.
struct CtlError: Error, CustomStringConvertible {
    let exit: CtlExit
    let message: String

    init(_ exit: CtlExit, _ message: String) {
        self.exit = exit
        self.message = message
    }

    var description: String { message }
}
