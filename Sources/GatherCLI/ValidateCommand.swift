import GatherSpool
#if canImport(Glibc)
import Glibc
#endif

/// `gatherctl validate FILE...` and the first step of `submit`: the daemon's
/// own validator (SPEC §4, §8), with the caller as the file owner.
struct JobFileCheck {
    /// One file read and validated.
    struct Checked {
        let path: String
        let bytes: [UInt8]
        let validation: JobFileValidation
        var isValid: Bool { validation.problems.isEmpty }
    }

    let spool: SpoolFiles

    /// Reads and validates every file; the first unreadable file is a system error.
    func check(_ paths: [String]) throws(CtlError) -> [Checked] {
        // The daemon sees the file's owner as the submitter: the file gatherctl
        // creates belongs to its effective uid.
        let context = JobFileContext(ownerUID: geteuid(), daemonUID: spool.daemonUID)
        var checked: [Checked] = []
        for path in paths {
            let bytes = try SpoolFiles.read(path)
            checked.append(Checked(path: path, bytes: bytes, validation: JobFileValidator.validate(bytes, context: context)))
        }
        return checked
    }

    /// The label of a file in messages (`-` is stdin).
    static func label(_ path: String) -> String { path == "-" ? "<stdin>" : path }

    /// Prints every problem as `FILE: key.path: message` on stderr.
    static func report(_ checked: [Checked], console: Console) {
        for file in checked {
            for problem in file.validation.problems { console.error("\(label(file.path)): \(KeySuggestion.line(problem))") }
        }
    }
}

/// `gatherctl validate FILE...`: every error with its key path, or `ok`.
struct ValidateCommand {
    let files: [String]
    let spool: SpoolFiles
    let json: Bool

    func run(_ console: Console) throws(CtlError) -> CtlExit {
        let checked = try JobFileCheck(spool: spool).check(files)
        if json {
            let list: [JSONValue] = checked.map { file in
                .object([
                    ("file", .string(file.path)), ("ok", .bool(file.isValid)),
                    ("errors", .array(file.validation.problems.map {
                        var members: [(key: String, value: JSONValue)] = [("path", .string($0.path)), ("message", .string($0.message))]
                        if $0.message == "unknown key", let key = KeySuggestion.suggestion(forPath: $0.path) {
                            members.append(("did_you_mean", .string(key)))
                        }
                        return .object(members)
                    })),
                ])
            }
            console.line(JSONValue.array(list).serialized())
        } else {
            for file in checked {
                let label = JobFileCheck.label(file.path)
                if file.isValid { console.line("\(label): ok") }
                for problem in file.validation.problems { console.line("\(label): \(KeySuggestion.line(problem))") }
            }
        }
        return checked.allSatisfy(\.isValid) ? .success : .failed
    }
}
