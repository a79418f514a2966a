import GatherSpool

/// What a mutation of a valid file is known to break: the validator must
/// report a problem there. Only a single mutation of a corpus file carries
/// one (mutations on top of each other may undo each other).
public struct FuzzExpectation: Sendable, CustomStringConvertible {
    /// Key paths, any of which may hold the problem.
    public var paths: [String]
    /// Whether a problem under a path (`path.x`, `path[0]`) counts too.
    public var under: Bool
    /// The start of the problem's message, when known.
    public var message: String?
    /// Whether a whole-file problem (empty path) counts too.
    public var wholeFile: Bool
    /// The mutation changed nothing the validator may tell apart (member
    /// order, escapes): the file must still be valid.
    public var stillValid = false

    /// The file must still be valid.
    public static let valid = FuzzExpectation(paths: [], under: false, message: nil, wholeFile: false, stillValid: true)

    /// A problem at `path` (or under it, with `under`).
    /// `path` is the raw key path; problems write control characters escaped.
    public static func at(_ path: String, under: Bool = false, message: String? = nil, orWholeFile: Bool = false) -> FuzzExpectation {
        FuzzExpectation(paths: [JobFileProblem.escapingControls(path)], under: under, message: message, wholeFile: orWholeFile)
    }

    /// A problem of the whole file (syntax, size, not an object), whose message contains `containing`.
    public static func wholeFile(_ containing: String? = nil) -> FuzzExpectation {
        FuzzExpectation(paths: [], under: false, message: containing, wholeFile: true)
    }

    /// Whether `problem` is what was expected.
    public func isMet(by path: String, message text: String) -> Bool {
        if path.isEmpty {
            guard wholeFile else { return false }
            return paths.isEmpty ? message.map { text.contains($0) } ?? true : true
        }
        let placed = paths.contains { p in
            path == p || (under && (path.hasPrefix(p + ".") || path.hasPrefix(p + "[")))
        }
        return placed && (message.map { text.hasPrefix($0) } ?? true)
    }

    public var description: String {
        if stillValid { return "a valid file" }
        var parts: [String] = []
        if !paths.isEmpty {
            parts.append("a problem at " + paths.joined(separator: " or ") + (under ? " (or under it)" : ""))
        }
        if wholeFile { parts.append("a whole-file problem") }
        var text = parts.joined(separator: " or ")
        if let message { text += ", message \(paths.isEmpty ? "containing" : "starting") \"\(message)\"" }
        return text
    }
}
