import Gather

/// The error a process task body throws: a status not in `success_exit_codes`
/// (`failed`), a signal gatherd did not send (`killed`), or a spawn failure
/// (`spawn-failed`). `description` is the text after `name: `.
public struct ProcessTaskError: GatherTaskError, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public static let exited = Code(name: "exited")
        public static let killed = Code(name: "killed")
        public static let spawnFailed = Code(name: "spawn-failed")
        public var description: String { name }
    }

    public let code: Code
    /// The process that ran (nil for a spawn failure).
    public let exit: ProcessExit?
    /// Why it could not start (nil unless `code` is `spawnFailed`).
    public let spawnError: SpawnError?

    public init(exit: ProcessExit) {
        switch exit.status {
        case .exited: code = .exited
        case .signaled: code = .killed
        }
        self.exit = exit
        self.spawnError = nil
    }

    public init(spawnError: SpawnError) {
        code = .spawnFailed
        exit = nil
        self.spawnError = spawnError
    }

    public var description: String {
        if let spawnError { return spawnError.description }
        return exit.map(\.errorText) ?? "ended"
    }

    /// `failed`, `killed` or `spawn-failed` (SPEC §5).
    public var outcome: TaskOutcome {
        switch code {
        case .killed: return .killed
        case .spawnFailed: return .spawnFailed
        default: return .failed
        }
    }
}
