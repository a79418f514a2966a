/// The events gatherd logs with a MESSAGE_ID (SPEC §7). The raw value is the
/// MESSAGE_ID; `systemd/gatherd.catalog` explains each one (`journalctl -x`).
///
/// These IDs are interface: administrators filter on them
/// (`journalctl MESSAGE_ID=2567adab07a549029b2ad935f355fc66`). Never change one.
public enum JournalMessageID: String, Sendable, CaseIterable {
    case jobStarted = "d163e738219640b9b685a8d8ba3726fd"
    case jobSucceeded = "3a64dfccb9fd44149e8806b583dd28d4"
    /// The compound-error entry.
    case jobFailed = "2567adab07a549029b2ad935f355fc66"
    /// The first error of a `fail-fast` or `cancel-siblings` job.
    case jobFailing = "e2597b54e3d4480399b18b5ba2fa1011"
    case taskError = "e7c98ccc13c5485c9b53ae2da4518752"
    case taskRetry = "4bb6b2a0cdd34b54a19c326b2592c21d"
    case jobRejected = "14aab89053904a78921c57d0c64d6cac"
    case jobCancelled = "2169a4fd057e41759754083de8891473"
    case cancelRefused = "c0404cf9a05349919b3fb42e7236d2ff"
    case jobInterrupted = "d3be6196e2bd46a789785f97097cb3e5"
    case spoolWriteError = "d649cc7d09c1441c84c15074a4a6e572"
    case daemonReady = "08982e59b9f0491b9db5d3506543a0f5"
    case daemonStopping = "7de80dd028b948c7a66a170cb9c4a9e8"
    /// `claiming paused: …` and `claiming resumed` (the spool's `paused` file).
    case claimingPaused = "576e3fe8c2fa41dbbe96de3044a4f7b4"
    /// A job's hook (`on_end`, `on_failure`, `--on-failure`) did not succeed.
    case hookFailed = "5984e417d8694f13aac08ff6f60b8a12"

    /// The syslog PRIORITY of the event (SPEC §7).
    public var priority: Int {
        switch self {
        case .jobStarted, .jobSucceeded, .daemonReady, .daemonStopping: return 6
        case .jobFailed, .jobRejected: return 3
        case .jobFailing, .taskError, .cancelRefused, .jobInterrupted, .hookFailed: return 4
        case .taskRetry, .jobCancelled, .claimingPaused: return 5
        case .spoolWriteError: return 2
        }
    }

    /// The catalog's `Subject:` line (`systemd/gatherd.catalog`; a test keeps them equal).
    /// `@GATHER_JOB@` is replaced by journalctl with the entry's field.
    public var subject: String {
        switch self {
        case .jobStarted: return "gatherd job @GATHER_JOB@ started"
        case .jobSucceeded: return "gatherd job @GATHER_JOB@ succeeded"
        case .jobFailed: return "gatherd job @GATHER_JOB@ failed"
        case .jobFailing: return "gatherd job @GATHER_JOB@ is failing"
        case .taskError: return "A task of gatherd job @GATHER_JOB@ ended with an error"
        case .taskRetry: return "A task attempt of gatherd job @GATHER_JOB@ failed and will be retried"
        case .jobRejected: return "gatherd rejected the job file of @GATHER_JOB@"
        case .jobCancelled: return "gatherd job @GATHER_JOB@ was cancelled by request"
        case .cancelRefused: return "A cancel request for gatherd job @GATHER_JOB@ was refused"
        case .jobInterrupted: return "gatherd job @GATHER_JOB@ was interrupted"
        case .spoolWriteError: return "gatherd cannot write to its spool"
        case .daemonReady: return "gatherd is ready"
        case .daemonStopping: return "gatherd is stopping"
        case .claimingPaused: return "gatherd paused or resumed claiming new jobs"
        case .hookFailed: return "A hook of gatherd job @GATHER_JOB@ did not succeed"
        }
    }
}

/// The syslog level names, for readable stderr lines.
enum SyslogLevel {
    static func name(_ level: Int) -> String {
        switch level {
        case 0: return "emerg"
        case 1: return "alert"
        case 2: return "crit"
        case 3: return "err"
        case 4: return "warning"
        case 5: return "notice"
        case 6: return "info"
        default: return "debug"
        }
    }
}
