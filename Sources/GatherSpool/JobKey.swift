/// One key of the job file (SPEC §4): what the documentation says of it and
/// how the validator reads it, in one row, so that the key the validator
/// accepts and the key the manual describes cannot drift apart.
/// ``JobKeyTable`` holds the rows.
public struct JobKey: Sendable {
    /// Where a key may appear: at the top of the file, or in a task object.
    public enum Scope: String, Sendable, CaseIterable {
        case job
        case task
    }

    /// Reads one member's value at a key path into the job or the task,
    /// adding to the problems what is wrong with it.
    typealias Reader<Target> = @Sendable (_ value: JSONValue, _ path: String, _ target: inout Target,
                                          _ problems: inout Problems) -> Void

    /// The reader of a row; its case is the row's scope, so a job key can
    /// never be handed a task.
    enum Apply: Sendable {
        case job(Reader<JobFile>)
        case task(Reader<JobFile.Task>)
    }

    /// The key as written in the file (`max_parallel`).
    public let name: String
    /// The value's type as the SPEC's table gives it (`integer, at least 1`).
    public let type: String
    /// What applies when the key is absent; `nil` when the key has no
    /// default and must be given (`tasks`, a task's `name`).
    public let defaultText: String?
    /// The only values a string key takes, in the order messages list them;
    /// empty for keys that are not a choice.
    public let allowedValues: [String]
    /// One line: what the key does.
    public let meaning: String
    /// The SPEC section that says more (`§2`).
    public let section: String
    let apply: Apply

    /// Whether a file or task without this key is invalid.
    public var isRequired: Bool { defaultText == nil }

    /// The scope the reader writes into.
    public var scope: Scope {
        switch apply {
        case .job: return .job
        case .task: return .task
        }
    }

    /// A key of the job object.
    static func job(_ name: String, type: String, default defaultText: String?, meaning: String, section: String,
                    read: @escaping Reader<JobFile>) -> JobKey {
        JobKey(name: name, type: type, defaultText: defaultText, allowedValues: [], meaning: meaning,
               section: section, apply: .job(read))
    }

    /// A key of a task object.
    static func task(_ name: String, type: String, default defaultText: String?, meaning: String, section: String,
                     read: @escaping Reader<JobFile.Task>) -> JobKey {
        JobKey(name: name, type: type, defaultText: defaultText, allowedValues: [], meaning: meaning,
               section: section, apply: .task(read))
    }

    /// A job key whose value is one of the cases of `E`. The row's allowed
    /// values and the validator's message come from the same list, so a case
    /// added to `E` is accepted, documented and named in the message at once.
    static func job<E: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, oneOf _: E.Type, default defaultText: String, meaning: String, section: String,
        set: @escaping @Sendable (inout JobFile, E) -> Void
    ) -> JobKey where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        return JobKey(name: name, type: "string", defaultText: defaultText, allowedValues: allowed, meaning: meaning,
                      section: section, apply: .job { value, path, job, p in
                          if let choice = p.choice(value, path, allowed).flatMap(E.init(rawValue:)) { set(&job, choice) }
                      })
    }

    /// A task key whose value is one of the cases of `E` (as ``job(_:oneOf:default:meaning:section:set:)``).
    static func task<E: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, oneOf _: E.Type, default defaultText: String, meaning: String, section: String,
        set: @escaping @Sendable (inout JobFile.Task, E) -> Void
    ) -> JobKey where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        return JobKey(name: name, type: "string", defaultText: defaultText, allowedValues: allowed, meaning: meaning,
                      section: section, apply: .task { value, path, task, p in
                          if let choice = p.choice(value, path, allowed).flatMap(E.init(rawValue:)) { set(&task, choice) }
                      })
    }

    /// `"a", "b" or "c"`: the values as a message lists them.
    static func alternatives(_ values: [String]) -> String {
        let quoted = values.map { "\"\($0)\"" }
        guard let last = quoted.last else { return "" }
        return quoted.count == 1 ? last : quoted.dropLast().joined(separator: ", ") + " or " + last
    }
}

/// The keys of one scope, looked up by name: what the validator runs over an
/// object's members. Built once from ``JobKeyTable``.
struct JobKeyIndex<Target>: Sendable {
    private let readers: [String: JobKey.Reader<Target>]
    /// In table order, which is the order of the `required` problems.
    private let required: [String]

    init(_ keys: [JobKey], reader: (JobKey.Apply) -> JobKey.Reader<Target>?) {
        var readers: [String: JobKey.Reader<Target>] = [:]
        var required: [String] = []
        for key in keys {
            guard let read = reader(key.apply) else { continue }
            precondition(readers[key.name] == nil, "job key \(key.name) listed twice")
            readers[key.name] = read
            if key.isRequired { required.append(key.name) }
        }
        self.readers = readers
        self.required = required
    }

    /// Reads every member into `target` in file order, then reports the
    /// required keys that were missing.
    /// - Parameters:
    ///   - members: the object's members (no duplicates: the reader keeps the first).
    ///   - base: the object's key path, empty for the top level.
    func read(_ members: [(key: String, value: JSONValue)], at base: String, into target: inout Target,
              problems p: inout Problems) {
        for (key, value) in members {
            let path = JobKeyPath.member(base, key)
            guard let read = readers[key] else { p.add(path, "unknown key"); continue }
            read(value, path, &target, &p)
        }
        for key in required where !members.contains(where: { $0.key == key }) {
            p.add(JobKeyPath.member(base, key), "required")
        }
    }
}

extension Problems {
    /// A string that is one of `allowed`, else a problem that lists them all.
    mutating func choice(_ v: JSONValue, _ path: String, _ allowed: [String]) -> String? {
        guard let s = string(v, path) else { return nil }
        guard allowed.contains(s) else { add(path, "must be \(JobKey.alternatives(allowed))"); return nil }
        return s
    }
}
