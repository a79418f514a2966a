import GatherSpool

/// One input of a run: a corpus file after its mutations.
public struct FuzzInput: Sendable {
    /// Its number in the run; with the seed, it replays the input.
    public let index: Int
    /// The corpus file it started from.
    public let base: String
    /// What was done to it, in order.
    public let mutations: [String]
    public let bytes: [UInt8]
    /// What the validator must say of it, when known.
    public let expectation: FuzzExpectation?
}

/// Makes the inputs of a run: input N of seed S is always the same bytes.
/// Mutations work on the JSON tree (keys, values, types, numbers, durations,
/// names, nesting, tasks and their `after` graph) and on the bytes (flips,
/// insertions, deletions, truncation); some inputs get several.
public struct FuzzMutator: Sendable {
    public let corpus: [FuzzCorpusFile]
    public let seed: UInt64

    public init(corpus: [FuzzCorpusFile], seed: UInt64) {
        self.corpus = corpus
        self.seed = seed
    }

    /// Input number `index`.
    public func input(_ index: Int) -> FuzzInput {
        var rng = SplitMix64.forInput(index, seed: seed)
        let base = rng.pick(corpus)
        var doc = base.document
        let roll = rng.below(100)
        let count = roll < 3 ? 0 : roll < 65 ? 1 : 2 + rng.below(3)
        var jsonSteps = 0, byteSteps = 0
        for _ in 0..<count { if rng.chance(3, in: 4) { jsonSteps += 1 } else { byteSteps += 1 } }
        var done: [String] = []
        var expectation: FuzzExpectation? = count == 0 ? .valid : nil
        for _ in 0..<jsonSteps {
            let (what, expected) = Self.mutateTree(&doc, &rng)
            done.append(what)
            expectation = count == 1 ? expected : nil
        }
        var bytes = doc.bytes(pretty: rng.chance(1, in: 4))
        for _ in 0..<byteSteps {
            let (what, expected) = Self.mutateBytes(&bytes, &rng)
            done.append(what)
            expectation = count == 1 ? expected : nil
        }
        // Larger than the limit is refused whole, whatever else is wrong.
        if bytes.count > JobFileValidator.maxFileSize { expectation = .wholeFile("larger than 1 MiB") }
        return FuzzInput(index: index, base: base.label, mutations: done, bytes: bytes, expectation: expectation)
    }
}

// MARK: - Where a value sits

/// What the validator reads a value as, from where it sits.
enum FuzzSlot: Equatable {
    case job(String)
    case task(String)
    case taskObject
    case commandArg
    case afterName
    case exitCode
    case envValue
    case other

    /// The JSON types the validator takes here, when the fuzzer knows them.
    var accepted: Set<FuzzKind>? {
        switch self {
        case .job(let key): return Self.jobTypes[key]
        case .task(let key): return Self.taskTypes[key]
        case .taskObject: return [.object]
        case .commandArg, .afterName, .envValue: return [.string]
        case .exitCode: return [.number]
        case .other: return nil
        }
    }

    /// Whether only a JSON integer is taken here (no fraction or exponent).
    var isInteger: Bool {
        switch self {
        case .job(let key): return ["max_parallel", "tasks_max"].contains(key)
        case .task(let key): return ["retries", "tasks_max"].contains(key)
        case .exitCode: return true
        default: return false
        }
    }

    /// Whether a duration is taken here, and whether it must be more than 0.
    var duration: (isDuration: Bool, positive: Bool) {
        switch self {
        case .job("timeout"), .task("timeout"): return (true, true)
        case .job("kill_grace"), .task("retry_delay"), .task("retry_delay_max"): return (true, false)
        default: return (false, false)
        }
    }

    var isSize: Bool { self == .job("memory_max") || self == .task("memory_max") }

    static let durationTypes: Set<FuzzKind> = [.string, .number]
    static let jobTypes: [String: Set<FuzzKind>] = [
        "name": [.string], "policy": [.string], "cwd": [.string], "user": [.string], "output": [.string],
        "cpu_max": [.string], "max_parallel": [.number], "tasks_max": [.number], "timeout": durationTypes,
        "kill_grace": durationTypes, "env": [.object], "restartable": [.bool], "memory_max": [.string, .number],
        "tasks": [.array],
    ]
    static let taskTypes: [String: Set<FuzzKind>] = [
        "name": [.string], "cwd": [.string], "cpu_max": [.string], "retries": [.number], "tasks_max": [.number],
        "timeout": durationTypes, "retry_delay": durationTypes, "env": [.object], "memory_max": [.string, .number],
        "command": [.array], "after": [.array], "success_exit_codes": [.array], "retry_delay_max": durationTypes,
        "retry_exit_codes": [.array], "finally": [.bool],
    ]
}

/// A JSON value's type.
enum FuzzKind: CaseIterable {
    case null, bool, number, string, array, object

    init(_ v: FuzzJSON) {
        switch v {
        case .null: self = .null
        case .bool: self = .bool
        case .number: self = .number
        case .string, .rawString: self = .string
        case .array: self = .array
        case .object, .raw: self = .object
        }
    }

    /// A value of this type.
    var sample: FuzzJSON {
        switch self {
        case .null: return .null
        case .bool: return .bool(true)
        case .number: return .integer(7)
        case .string: return .string("x")
        case .array: return .array([])
        case .object: return .object([])
        }
    }
}

extension FuzzJSON {
    /// Where the value at `steps` sits, for the validator.
    func slot(_ steps: [FuzzStep]) -> FuzzSlot {
        guard case .object(let root) = self, case .member(let top)? = steps.first, root.indices.contains(top),
              let topName = root[top].name else { return .other }
        // Only the first of duplicate keys is read.
        guard root.firstIndex(where: { $0.name == topName }) == top else { return .other }
        func underKey(_ key: String, _ rest: ArraySlice<FuzzStep>) -> FuzzSlot {
            guard rest.count == 1, case .element = rest.first! else {
                if key == "env", rest.count == 1, case .member = rest.first! { return .envValue }
                return .other
            }
            switch key {
            case "command": return .commandArg
            case "after": return .afterName
            case "success_exit_codes", "retry_exit_codes": return .exitCode
            default: return .other
            }
        }
        if steps.count == 1 { return .job(topName) }
        if topName != "tasks" { return underKey(topName, steps.dropFirst()) }
        guard case .element = steps[1] else { return .other }
        if steps.count == 2 { return .taskObject }
        guard case .member(let k) = steps[2], case .object(let members)? = value(at: steps.prefix(2)),
              members.indices.contains(k), let key = members[k].name,
              members.firstIndex(where: { $0.name == key }) == k else { return .other }
        if steps.count == 3 { return .task(key) }
        return underKey(key, steps.dropFirst(3))
    }

    /// The steps to the `tasks` array and its elements, when it is one.
    var taskPlaces: (tasks: [FuzzStep], items: [FuzzJSON])? {
        guard case .object(let root) = self, let t = root.firstIndex(where: { $0.name == "tasks" }),
              case .array(let items) = root[t].value else { return nil }
        return ([.member(t)], items)
    }

    /// The task names of the `tasks` array (nil for a task without a plain name).
    /// Whether task `i` is marked `"finally": true`.
    func isFinallyTask(_ i: Int) -> Bool {
        guard let (_, items) = taskPlaces, items.indices.contains(i), case .object(let m) = items[i] else { return false }
        return m.contains { $0.name == "finally" && $0.value == .bool(true) }
    }

    var taskNames: [String?] {
        (taskPlaces?.items ?? []).map { if case .string(let s)? = $0["name"] { s } else { nil } }
    }
}

// MARK: - Tree mutations

extension FuzzMutator {
    typealias Outcome = (what: String, expected: FuzzExpectation?)
    typealias TreeMutation = @Sendable (inout FuzzJSON, inout SplitMix64) -> Outcome?

    /// The tree mutations, each with a weight.
    static let treeMutations: [(weight: Int, mutate: TreeMutation)] = [
        (6, renameKey), (5, duplicateKey), (4, removeKey), (4, addUnknownKey), (8, swapType), (7, numberForm),
        (8, oddDuration), (6, controlInString), (4, rawBytesInString), (3, deepNesting), (3, longString),
        (2, emptyTasks), (3, unknownAfter), (3, cyclicAfter), (3, duplicateTaskName), (3, wrongChoice),
        (3, badEnvKey), (2, badCwd), (3, user), (1, rootType), (3, badExitCodes), (4, outOfRange), (2, manyTasks),
        (3, otherCommand), (4, reorder), (3, escapeString), (3, finallyInAfter),
    ]
    static let totalWeight = treeMutations.reduce(0) { $0 + $1.weight }

    /// Applies one tree mutation that fits the document.
    static func mutateTree(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome {
        for _ in 0..<50 {
            var roll = rng.below(totalWeight)
            for (weight, mutate) in treeMutations {
                if roll < weight {
                    // On a copy: a mutation that finds it does not fit leaves nothing half done.
                    var copy = doc
                    if let outcome = mutate(&copy, &rng) { doc = copy; return outcome }
                    break
                }
                roll -= weight
            }
        }
        return ("nothing", nil)
    }

    /// A value of the document (not the top), picked at random, optionally among those that fit.
    static func pickPlace(_ doc: FuzzJSON, _ rng: inout SplitMix64,
                          where fits: (_ steps: [FuzzStep], _ value: FuzzJSON) -> Bool = { _, _ in true }) -> [FuzzStep]? {
        let places = doc.places().dropFirst().filter { fits($0.steps, $0.value) }
        return places.isEmpty ? nil : rng.pick(places).steps
    }

    /// The objects whose members are keys of the table: the top and each task, with their scope.
    static func keyedObjects(_ doc: FuzzJSON) -> [(steps: [FuzzStep], scope: JobKey.Scope, base: String)] {
        var out: [(steps: [FuzzStep], scope: JobKey.Scope, base: String)] = []
        if case .object = doc { out.append(([], .job, "")) }
        if let (tasks, items) = doc.taskPlaces {
            for (i, item) in items.enumerated() { if case .object = item { out.append((tasks + [.element(i)], .task, "tasks[\(i)]")) } }
        }
        return out
    }

    static func keyNames(_ scope: JobKey.Scope) -> Set<String> { Set(JobKeyTable.keys(in: scope).map(\.name)) }

    /// The key path of member `key` of the object at `base`, as the validator writes it (an empty key as `""`).
    static func join(_ base: String, _ key: String) -> String {
        let shown = key.isEmpty ? "\"\"" : key
        return base.isEmpty ? shown : "\(base).\(shown)"
    }

    static func members(_ v: FuzzJSON?) -> [FuzzJSON.Member] { if case .object(let m)? = v { m } else { [] } }

    /// A key with a typo in it.
    static func typo(_ key: String, _ rng: inout SplitMix64) -> String {
        var c = Array(key)
        guard !c.isEmpty else { return "x" }
        switch rng.below(8) {
        case 0 where c.count > 1:
            let i = rng.below(c.count - 1); c.swapAt(i, i + 1)
        case 1 where c.count > 1: c.remove(at: rng.below(c.count))
        case 2: let i = rng.below(c.count); c.insert(c[i], at: i)
        case 3: c[0] = Character(c[0].uppercased())
        case 4: c = c.map { $0 == "_" ? "-" : $0 }
        case 5: c.append("s")
        case 6: c.insert(" ", at: rng.chance(1, in: 2) ? 0 : c.count)
        default: c = Array(key.uppercased())
        }
        return String(c)
    }

    static func renameKey(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let objects = keyedObjects(doc)
        guard !objects.isEmpty else { return nil }
        let (steps, scope, base) = rng.pick(objects)
        let members = members(doc.value(at: steps[...]))
        guard !members.isEmpty else { return nil }
        let k = rng.below(members.count)
        guard let old = members[k].name else { return nil }
        let new = typo(old, &rng)
        guard new != old else { return nil }
        doc.update(at: steps[...]) { if case .object(var m) = $0 { m[k].key = .string(new); $0 = .object(m) } }
        let known = keyNames(scope).contains(new) || members.contains { $0.name == new }
        return ("rename key \(join(base, old)) to \"\(new)\"", known ? nil : .at(join(base, new), message: "unknown key"))
    }

    static func duplicateKey(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        guard let steps = pickPlace(doc, &rng, where: { steps, _ in
            if case .member = steps.last! { return true } else { return false }
        }) else { return nil }
        let parent = Array(steps.dropLast())
        guard case .member(let k) = steps.last!, let path = doc.keyPath(steps) else { return nil }
        let original = members(doc.value(at: parent[...]))[k]
        var copy = original
        if rng.chance(1, in: 2) { copy.value = rng.pick(FuzzKind.allCases).sample }
        let at = rng.chance(1, in: 2) ? k + 1 : members(doc.value(at: parent[...])).count
        doc.update(at: parent[...]) { if case .object(var m) = $0 { m.insert(copy, at: at); $0 = .object(m) } }
        // The reader reports a duplicate only where the first one was read: not inside another duplicate.
        let read = doc.slot(steps) != .other || parent.isEmpty
        return ("duplicate key \(path)", read ? .at(path, message: "duplicate key") : nil)
    }

    static func removeKey(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let objects = keyedObjects(doc)
        guard !objects.isEmpty else { return nil }
        let (steps, scope, base) = rng.pick(objects)
        let members = members(doc.value(at: steps[...]))
        guard !members.isEmpty else { return nil }
        let k = rng.below(members.count)
        guard let name = members[k].name else { return nil }
        doc.update(at: steps[...]) { if case .object(var m) = $0 { m.remove(at: k); $0 = .object(m) } }
        let required = JobKeyTable.keys(in: scope).contains { $0.name == name && $0.isRequired }
        // Removing a task's name also leaves its `after` references unknown: still a `required` problem first.
        return ("remove key \(join(base, name))", required ? .at(join(base, name), message: "required") : nil)
    }

    static let unknownKeys = ["extra", "Name", "tasks ", " name", "retry_delay_min", "retry_exit_code", "Finally", "on_end",
                              "on_failure", "executor", "slurm", "", "\u{0}", "a.b", "tasks[0]", "comand", "\u{1}x", "ünknown"]

    static func addUnknownKey(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let objects = keyedObjects(doc)
        guard !objects.isEmpty else { return nil }
        let (steps, scope, base) = rng.pick(objects)
        let key = rng.pick(unknownKeys)
        let existing = members(doc.value(at: steps[...]))
        guard !keyNames(scope).contains(key), !existing.contains(where: { $0.name == key }) else { return nil }
        let value = rng.pick(FuzzKind.allCases).sample
        let at = rng.below(existing.count + 1)
        doc.update(at: steps[...]) { if case .object(var m) = $0 { m.insert(.init(key, value), at: at); $0 = .object(m) } }
        return ("add unknown key \(join(base, key).debugDescription)", .at(join(base, key), message: "unknown key"))
    }

    static func swapType(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        guard let steps = pickPlace(doc, &rng), let path = doc.keyPath(steps) else { return nil }
        let slot = doc.slot(steps)
        let old = doc.value(at: steps[...])!
        let kind = rng.pick(FuzzKind.allCases.filter { $0 != FuzzKind(old) })
        doc.update(at: steps[...]) { $0 = kind.sample }
        let rejected = slot.accepted.map { !$0.contains(kind) } ?? false
        return ("value of \(path) to \(kind)", rejected ? .at(reported(path, slot)) : nil)
    }

    /// Number tokens and what they are: `integer` when the reader takes them
    /// for a JSON integer, `seconds` their value, `syntax` when not JSON at all.
    static let numberTokens: [(token: String, integer: Bool, seconds: Double, syntax: Bool)] = [
        ("4.0", false, 4, false), ("1e2", false, 100, false), ("1E+2", false, 100, false), ("1.5", false, 1.5, false),
        ("-0", true, 0, false), ("0", true, 0, false), ("-3", true, -3, false), ("-1.5", false, -1.5, false),
        ("184467440737095516160", false, 1.8e20, false), ("1e400", false, .infinity, false), ("5e-324", false, .leastNonzeroMagnitude, false),
        ("0.0000001", false, 1e-7, false), ("0.0005", false, 5e-4, false), ("0.001", false, 1e-3, false), ("1e-3", false, 1e-3, false),
        ("-1e-7", false, -1e-7, false), ("9223372036854775807", true, 9.2e18, false), ("9223372036854775808", false, 9.2e18, false),
        ("-9223372036854775808", true, -9.2e18, false), ("2", true, 2, false), ("101", true, 101, false), ("256", true, 256, false),
        ("00", false, 0, true), ("+1", false, 1, true), (".5", false, 0.5, true), ("1.", false, 1, true), ("0x10", false, 16, true),
        ("NaN", false, .nan, true), ("Infinity", false, .infinity, true), ("1e", false, 1, true), ("--1", false, 1, true),
    ]

    static func numberForm(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        guard let steps = pickPlace(doc, &rng, where: { steps, v in
            if case .number = v { return true }
            let slot = doc.slot(steps)
            return slot.isInteger || slot.duration.isDuration || slot.isSize
        }), let path = doc.keyPath(steps) else { return nil }
        let slot = doc.slot(steps)
        let n = rng.pick(numberTokens)
        doc.update(at: steps[...]) { $0 = .number(n.token) }
        let what = "number \(n.token) at \(path)"
        if n.syntax { return (what, .wholeFile("line ")) }
        if slot.isInteger, !n.integer || n.seconds < 0 { return (what, .at(path)) }
        if slot.isSize, !n.integer || n.seconds < 1 { return (what, .at(path)) }
        let d = slot.duration
        if d.isDuration {
            let tooSmall = n.seconds > 0 && n.seconds < 0.001
            let bad = n.seconds < 0 || !n.seconds.isFinite || n.seconds * 1e9 >= 9.2e18 || tooSmall || (d.positive && n.seconds == 0)
            if bad { return (what, .at(path)) }
        }
        return (what, nil)
    }

    /// Duration texts and whether the SPEC takes them (0 or at least 1 ms; `nil`: the fuzzer does not say).
    static let durationTexts: [(FuzzJSON, valid: Bool?)] = [
        (.string("0.0000001s"), false), (.string("1h60m"), nil), (.string("5e-324"), false), (.number("5e-324"), false),
        (.string("0.5ms"), false), (.string("0.9999ms"), false), (.string("1ms"), true), (.string("0s"), nil), (.string(""), false),
        (.string("1h1h"), false), (.string("1 s"), false), (.string("-1s"), false), (.string("1.s"), false), (.string(".5s"), false),
        (.string("10000000h"), false), (.string("1S"), false), (.string("1m30"), false), (.string("0.0005s"), false),
        (.string("999us"), false), (.string("1e3s"), false), (.string("1.5s"), true), (.string("1ms1s"), nil),
        (.string("1h 30m"), false), (.string("1d"), false), (.string("\u{FF11}s"), false), (.string("1\u{0}s"), false),
        (.string("0.001s"), true), (.string("2562048h"), false), (.number("0.0005"), false), (.number("1e-4"), false),
        (.string("0.0s"), nil), (.string("0ms"), nil), (.string("1.0000001ms"), true), (.string("3ms"), true),
        (.string("0.1ms"), false), (.string("00001s"), nil), (.string("1.2.3s"), false), (.string("s"), false),
    ]

    static func oddDuration(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        guard let steps = pickPlace(doc, &rng, where: { steps, _ in doc.slot(steps).duration.isDuration }),
              let path = doc.keyPath(steps) else { return nil }
        let (value, valid) = rng.pick(durationTexts)
        doc.update(at: steps[...]) { $0 = value }
        return ("duration \(String(decoding: value.bytes(), as: UTF8.self)) at \(path)", valid == false ? .at(path) : nil)
    }

    /// Escape texts inserted into a string: (JSON text, the character, what it is).
    static let insertions: [(text: String, scalar: Unicode.Scalar)] = [
        (#"\u0001"#, "\u{1}"), (#"\n"#, "\n"), (#"\t"#, "\t"), (#"\u007f"#, "\u{7F}"), (#"\u0085"#, "\u{85}"), (#"\u0000"#, "\u{0}"),
        (#"\u200b"#, "\u{200B}"), (#"\u2028"#, "\u{2028}"), (#"\u001b"#, "\u{1B}"), (#"\r"#, "\r"), (#"\ud83d\ude00"#, "\u{1F600}"),
        (" ", " "), ("/", "/"), (#"\""#, "\""), (#"\\"#, "\\"),
    ]

    /// A string value, rewritten with `inserted` (JSON text) at the start, the end, or after its first character.
    static func insert(_ inserted: [UInt8], into s: String, _ rng: inout SplitMix64) -> FuzzJSON {
        let chars = Array(s)
        let cut = [0, chars.count, min(1, chars.count)][rng.below(3)]
        var head: [UInt8] = [], tail: [UInt8] = []
        FuzzJSON.appendString(String(chars[..<cut]), to: &head)
        FuzzJSON.appendString(String(chars[cut...]), to: &tail)
        return .rawString(Array(head.dropFirst().dropLast()) + inserted + Array(tail.dropFirst().dropLast()))
    }

    /// What a changed string at `slot` is bound to break, given the character added.
    static func breaks(_ slot: FuzzSlot, _ c: Unicode.Scalar, path: String) -> FuzzExpectation? {
        let control = c.value < 0x20 || (0x7F...0x9F).contains(c.value)
        switch slot {
        case .job("name"): return c.value == 0 || control ? .at(path) : nil
        case .task("name"):
            let ok = c.isASCII && (Character(c).isLetter || Character(c).isNumber || "._-".unicodeScalars.contains(c))
            return ok ? nil : .at(path)
        // Any change to a user name that exists names no user (or has a control character).
        case .job("user"): return .at(path)
        case .afterName: return .at(path)
        case .commandArg, .envValue: return c.value == 0 ? .at(path) : nil
        case .job("policy"), .job("output"), .job("cpu_max"), .task("cpu_max"): return .at(path)
        case .job("cwd"), .task("cwd"): return c.value == 0 ? .at(path) : nil
        default: return nil
        }
    }

    static func controlInString(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        guard let steps = pickPlace(doc, &rng, where: { if case .string = $1 { true } else { false } }),
              let path = doc.keyPath(steps), case .string(let s)? = doc.value(at: steps[...]) else { return nil }
        let slot = doc.slot(steps)
        let (text, scalar) = rng.pick(insertions)
        doc.update(at: steps[...]) { $0 = insert(Array(text.utf8), into: s, &rng) }
        return ("insert \(text) into \(path)", breaks(slot, scalar, path: path))
    }

    /// Raw bytes that no JSON string may hold (control characters) or that are not UTF-8.
    static let rawInsertions: [(bytes: [UInt8], message: String?)] = [
        ([0x01], "control character"), ([0x0A], "control character"), ([0x09], "control character"), ([0x00], "NUL character"),
        ([0x1F], "control character"), ([0xFF], "invalid UTF-8"), ([0xC0, 0x80], "invalid UTF-8"), ([0xED, 0xA0, 0x80], "invalid UTF-8"),
        ([0xF4, 0x90, 0x80, 0x80], "invalid UTF-8"), ([0xE2, 0x82], "invalid UTF-8"), ([0x80], "invalid UTF-8"),
        ([0xF8, 0x88, 0x80, 0x80, 0x80], "invalid UTF-8"), ([0xC2], "invalid UTF-8"), ([0x7F], nil), ([0xC2, 0x85], nil),
        (Array(#"\x"#.utf8), "invalid escape"), (Array(#"\u12G"#.utf8), "hex digits"), (Array(#"\ud800"#.utf8), "surrogate"),
        (Array(#"\udc00x"#.utf8), "surrogate"), (Array(#"\ud800\u0041"#.utf8), "surrogate"),
    ]

    static func rawBytesInString(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let inKey = rng.chance(1, in: 4)
        guard let steps = pickPlace(doc, &rng, where: { steps, v in
            if inKey { if case .member = steps.last! { return true } else { return false } }
            if case .string = v { return true } else { return false }
        }), let path = doc.keyPath(steps) else { return nil }
        let (bytes, message) = rng.pick(rawInsertions)
        let slot = doc.slot(steps)
        let shown = bytes.map { b in b >= 0x20 && b < 0x7F ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16) }.joined()
        if inKey {
            guard case .member(let k) = steps.last! else { return nil }
            let parent = steps.dropLast()
            doc.update(at: parent) { v in
                if case .object(var m) = v, case .string(let key) = m[k].key { m[k].key = insert(bytes, into: key, &rng); v = .object(m) }
            }
            return ("raw bytes \(shown) in the key \(path)", message.map { .wholeFile($0) })
        }
        guard case .string(let s)? = doc.value(at: steps[...]) else { return nil }
        doc.update(at: steps[...]) { $0 = insert(bytes, into: s, &rng) }
        if let message { return ("raw bytes \(shown) in \(path)", .wholeFile(message)) }
        // DEL and U+0085 as raw UTF-8: read, then judged as the escaped characters are.
        let scalar: Unicode.Scalar = bytes == [0x7F] ? "\u{7F}" : "\u{85}"
        return ("raw bytes \(shown) in \(path)", breaks(slot, scalar, path: path))
    }

    static func deepNesting(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        guard let steps = pickPlace(doc, &rng), let path = doc.keyPath(steps) else { return nil }
        let depth = rng.pick([10, 50, 150, 197, 198, 199, 200, 201, 500, 5_000, 100_000])
        let objects = rng.chance(1, in: 2)
        var text: [UInt8] = []
        if objects {
            text += Array(repeating: Array(#"{"a":"#.utf8), count: depth).joined()
            text += Array("1".utf8) + Array(repeating: UInt8(ascii: "}"), count: depth)
        } else {
            text += Array(repeating: UInt8(ascii: "["), count: depth) + Array(repeating: UInt8(ascii: "]"), count: depth)
        }
        doc.update(at: steps[...]) { $0 = .raw(text) }
        // Deep enough for the reader's limit, or of a type the key does not take.
        let what = "\(depth) nested \(objects ? "objects" : "arrays") at \(path)"
        let slot = doc.slot(steps)
        let rejected = slot.accepted != nil || depth >= StrictJSONReader.maxDepth
        return (what, rejected ? .at(reported(path, slot), under: true, orWholeFile: true) : nil)
    }

    /// Where a value of the wrong type is reported: an argument that is
    /// not a string at the command it is part of (SPEC §4's own example,
    /// `tasks[2].command: must be a non-empty array of strings`).
    static func reported(_ path: String, _ slot: FuzzSlot) -> String {
        guard slot == .commandArg, let open = path.lastIndex(of: "[") else { return path }
        return String(path[..<open])
    }

    static func longString(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        guard let steps = pickPlace(doc, &rng, where: { if case .string = $1 { true } else { false } }),
              let path = doc.keyPath(steps) else { return nil }
        let length = rng.pick([65, 201, 257, 4096, 65_536, 1_000_000, 1_048_577])
        let unit = rng.pick(["a", "é", "\u{1F600}", "ab/"])
        let text = String(decoding: repeatElement(Array(unit.utf8), count: max(1, length / unit.utf8.count)).joined(), as: UTF8.self)
        let slot = doc.slot(steps)
        let value: String
        switch slot {
        case .job("cwd"), .task("cwd"): value = "/" + text
        default: value = text
        }
        doc.update(at: steps[...]) { $0 = .string(value) }
        let expected: FuzzExpectation?
        switch slot {
        case .job("name") where value.utf8.count > 200: expected = .at(path, message: "must be at most 200 bytes")
        case .task("name"), .job("user"), .afterName, .job("policy"), .job("output"), .job("cpu_max"), .task("cpu_max"):
            expected = .at(path)
        default: expected = nil
        }
        return ("\(value.utf8.count)-byte string at \(path)", expected)
    }

    static func emptyTasks(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        guard let (tasks, _) = doc.taskPlaces else { return nil }
        doc.update(at: tasks[...]) { $0 = .array([]) }
        return ("empty tasks", .at("tasks", message: "must be an array of 1 to 10000 tasks"))
    }

    /// Appends `name` to the `after` of task `i` (making the list if needed); returns its position.
    static func addAfter(_ doc: inout FuzzJSON, task i: Int, _ name: String) -> Int? {
        guard let (tasks, items) = doc.taskPlaces, items.indices.contains(i), case .object(var m) = items[i] else { return nil }
        var position = 0
        if let a = m.firstIndex(where: { $0.name == "after" }) {
            guard case .array(var list) = m[a].value else { return nil }
            position = list.count
            list.append(.string(name))
            m[a].value = .array(list)
        } else {
            m.append(.init("after", .strings([name])))
        }
        doc.update(at: (tasks + [.element(i)])[...]) { $0 = .object(m) }
        return position
    }

    static func unknownAfter(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let names = doc.taskNames
        guard !names.isEmpty else { return nil }
        let i = rng.below(names.count)
        let ghost = rng.pick(["nope", "A", "a ", "t99", "-x", "", "b\u{0}", "É"])
        guard !names.contains(ghost), let k = addAfter(&doc, task: i, ghost) else { return nil }
        let path = "tasks[\(i)].after[\(k)]"
        return ("after \(ghost.debugDescription) at \(path)", .at(path, message: ghost.contains("\u{0}") ? "must not contain NUL" : "unknown task"))
    }

    static func cyclicAfter(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let names = doc.taskNames
        guard !names.isEmpty else { return nil }
        let i = rng.below(names.count), j = rng.below(names.count)
        guard let a = names[i], let b = names[j] else { return nil }
        // Waiting for a clean-up task is an error of its own, and no edge of the graph.
        guard !doc.isFinallyTask(i), !doc.isFinallyTask(j) else { return nil }
        if i == j {
            guard let k = addAfter(&doc, task: i, a) else { return nil }
            return ("task \(a) after itself", .at("tasks[\(i)].after[\(k)]", message: "a task cannot wait for itself"))
        }
        guard addAfter(&doc, task: i, b) != nil, addAfter(&doc, task: j, a) != nil else { return nil }
        // The cycle is told at whichever task closes it in the search.
        return ("tasks \(a) and \(b) after each other",
                FuzzExpectation(paths: (0..<names.count).map { "tasks[\($0)].after" }, under: false, message: "dependency cycle", wholeFile: false))
    }

    /// A task made a clean-up task while another names it in `after`.
    static func finallyInAfter(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let names = doc.taskNames
        guard names.count > 1 else { return nil }
        let i = rng.below(names.count), j = rng.below(names.count)
        guard i != j, let b = names[j], setTaskKey(&doc, j, "finally", .bool(true)), let k = addAfter(&doc, task: i, b) else {
            return nil
        }
        let path = "tasks[\(i)].after[\(k)]"
        return ("tasks[\(j)] finally, named at \(path)", .at(path, message: "\"\(b)\" is a finally task"))
    }

    static func duplicateTaskName(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        guard let (tasks, items) = doc.taskPlaces, !items.isEmpty else { return nil }
        let names = doc.taskNames
        if items.count == 1 || rng.chance(1, in: 3) {
            let i = rng.below(items.count)
            guard names[i] != nil else { return nil }
            doc.update(at: tasks[...]) { if case .array(var list) = $0 { list.append(items[i]); $0 = .array(list) } }
            return ("task \(i) copied to the end", .at("tasks[\(items.count)].name", message: "duplicate task name"))
        }
        var i = rng.below(items.count), j = rng.below(items.count)
        guard i != j else { return nil }
        if i > j { swap(&i, &j) }
        guard let name = names[i], case .object(var m) = items[j], let n = m.firstIndex(where: { $0.name == "name" }) else { return nil }
        m[n].value = .string(name)
        doc.update(at: (tasks + [.element(j)])[...]) { $0 = .object(m) }
        return ("task \(j) named \(name) as task \(i)", .at("tasks[\(j)].name", message: "duplicate task name"))
    }

    static func wrongChoice(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let choices = JobKeyTable.keys(in: .job).filter { !$0.allowedValues.isEmpty }
        guard !choices.isEmpty else { return nil }
        let key = rng.pick(choices)
        let good = rng.pick(key.allowedValues)
        let bad = rng.pick([good.uppercased(), good.replacingOccurrences("-", "_"), "", " " + good, good + "\u{0}", String(good.dropLast()),
                            good + "s", good.capitalizedFirst])
        guard !key.allowedValues.contains(bad) else { return nil }
        setJobKey(&doc, key.name, .string(bad))
        return ("\(key.name) \(bad.debugDescription)", .at(key.name))
    }

    /// Sets a top-level key (the first of its name), adding it if missing.
    static func setJobKey(_ doc: inout FuzzJSON, _ key: String, _ value: FuzzJSON) {
        guard case .object(var m) = doc else { return }
        if let i = m.firstIndex(where: { $0.name == key }) { m[i].value = value } else { m.insert(.init(key, value), at: 0) }
        doc = .object(m)
    }

    /// Sets a key of task `i` (the first of its name), adding it if missing.
    static func setTaskKey(_ doc: inout FuzzJSON, _ i: Int, _ key: String, _ value: FuzzJSON) -> Bool {
        guard let (tasks, items) = doc.taskPlaces, items.indices.contains(i), case .object(var m) = items[i] else { return false }
        if let k = m.firstIndex(where: { $0.name == key }) { m[k].value = value } else { m.append(.init(key, value)) }
        doc.update(at: (tasks + [.element(i)])[...]) { $0 = .object(m) }
        return true
    }

    /// A key of the top (`i` nil) or of task `i`, and its key path.
    static func pickScope(_ doc: FuzzJSON, _ rng: inout SplitMix64) -> (task: Int?, base: String) {
        let count = doc.taskPlaces?.items.count ?? 0
        if count == 0 || rng.chance(1, in: 2) { return (nil, "") }
        let i = rng.below(count)
        return (i, "tasks[\(i)]")
    }

    static func setKey(_ doc: inout FuzzJSON, _ scope: (task: Int?, base: String), _ key: String, _ value: FuzzJSON) -> Bool {
        if let i = scope.task { return setTaskKey(&doc, i, key, value) }
        setJobKey(&doc, key, value)
        return true
    }

    static func badEnvKey(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let scope = pickScope(doc, &rng)
        let (key, bad) = rng.pick([("1X", true), ("GATHER_JOB", true), ("GATHER_", true), ("A-B", true), ("", true), ("A B", true),
                                   ("\u{E9}", true), ("gather_x", false), ("_", false), ("A\u{0}", true), ("PATH", false)])
        let owner = scope.task.map { doc.taskPlaces!.items[$0] } ?? doc
        var env = members(owner["env"])
        guard !env.contains(where: { $0.name == key }) else { return nil }
        env.append(.init(key, .string("v")))
        guard setKey(&doc, scope, "env", .object(env)) else { return nil }
        let path = join(join(scope.base, "env"), key)
        return ("env key \(key.debugDescription) at \(join(scope.base, "env"))", bad ? .at(path) : nil)
    }

    static func badCwd(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let scope = pickScope(doc, &rng)
        let (cwd, bad) = rng.pick([("tmp", true), ("", true), ("./x", true), ("~/x", true), ("/nonexistent", false), ("//", false),
                                   (" /tmp", true), ("/tmp\u{0}", true)])
        guard setKey(&doc, scope, "cwd", .string(cwd)) else { return nil }
        let path = join(scope.base, "cwd")
        return ("cwd \(cwd.debugDescription) at \(path)", bad ? .at(path) : nil)
    }

    static func user(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let (name, bad) = rng.pick([("nosuchuser-fuzz", true), ("", true), ("ROOT", true), ("root ", true), ("root", false),
                                    ("nobody", false), ("0", nil), ("r\u{1}oot", true)] as [(String, Bool?)])
        setJobKey(&doc, "user", .string(name))
        return ("user \(name.debugDescription)", bad == true ? .at("user") : nil)
    }

    static func rootType(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let replacement: FuzzJSON = rng.pick([.array([doc]), .string("tasks"), .integer(1), .null, .bool(true), .array([])])
        doc = replacement
        return ("the document replaced by \(FuzzKind(replacement))", .wholeFile("must be a JSON object"))
    }

    static func badExitCodes(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let count = doc.taskPlaces?.items.count ?? 0
        guard count > 0 else { return nil }
        let i = rng.below(count)
        let (value, at): (FuzzJSON, String?) = rng.pick([
            (.array([]), ""), (.array([.integer(256)]), "[0]"), (.array([.integer(0), .integer(-1)]), "[1]"),
            (.array([.number("1.0")]), "[0]"), (.array([.string("0")]), "[0]"), (.array([.integer(255)]), nil),
            (.array([.integer(0), .integer(0)]), nil), (.array([.null]), "[0]"),
        ])
        let key = rng.pick(["success_exit_codes", "retry_exit_codes"])
        guard setTaskKey(&doc, i, key, value) else { return nil }
        let path = "tasks[\(i)].\(key)"
        return ("\(key) \(String(decoding: value.bytes(), as: UTF8.self)) at tasks[\(i)]", at.map { .at(path + $0) })
    }

    static func outOfRange(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let options: [(task: Bool, key: String, value: FuzzJSON, bad: Bool)] = [
            (true, "retries", .integer(101), true), (true, "retries", .integer(-1), true), (true, "retries", .integer(100), false),
            (false, "max_parallel", .integer(0), true), (false, "max_parallel", .number("9223372036854775807"), false),
            (false, "kill_grace", .string("5m1s"), true), (false, "kill_grace", .integer(301), true), (false, "kill_grace", .string("1h"), true),
            (false, "kill_grace", .string("300s"), false), (false, "tasks_max", .integer(0), true), (true, "tasks_max", .integer(4_194_305), true),
            (false, "cpu_max", .string("0%"), true), (false, "cpu_max", .string("100001%"), true), (true, "cpu_max", .string("1.5%"), true),
            (false, "memory_max", .string("0"), true), (false, "memory_max", .string("99999999T"), true), (true, "memory_max", .string("1K"), false),
            (false, "memory_max", .string("1KB"), true), (false, "timeout", .integer(0), true), (true, "timeout", .string("0s"), true),
            (false, "name", .string(""), true), (false, "restartable", .string("true"), true), (false, "output", .string("stderr"), true),
        ]
        let o = rng.pick(options)
        let path: String
        if o.task {
            let count = doc.taskPlaces?.items.count ?? 0
            guard count > 0 else { return nil }
            let i = rng.below(count)
            guard setTaskKey(&doc, i, o.key, o.value) else { return nil }
            path = "tasks[\(i)].\(o.key)"
        } else {
            setJobKey(&doc, o.key, o.value)
            path = o.key
        }
        return ("\(path) \(String(decoding: o.value.bytes(), as: UTF8.self))", o.bad ? .at(path) : nil)
    }

    static func manyTasks(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        guard let (tasks, _) = doc.taskPlaces else { return nil }
        let count = rng.chance(1, in: 8) ? rng.pick([10_000, 10_001]) : 2 + rng.below(60)
        let items: [FuzzJSON] = (0..<count).map { FuzzCorpus.task("m\($0)", command: $0) }
        doc.update(at: tasks[...]) { $0 = .array(items) }
        return ("\(count) tasks", count > 10_000 ? .at("tasks", message: "must be an array of 1 to 10000 tasks") : nil)
    }

    static func otherCommand(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let count = doc.taskPlaces?.items.count ?? 0
        guard count > 0 else { return nil }
        let i = rng.below(count)
        let (argv, at): (FuzzJSON, String?) = rng.pick([
            (.strings(["sleep", "1"]), nil), (.strings(["/nonexistent/fuzz"]), nil), (.strings(["", "x"]), "[0]"), (.array([]), ""),
            (.strings(["true", ""]), nil), (.strings(["echo", "a\u{0}b"]), "[1]"), (.array([.string("true"), .integer(1)]), ""),
            (.strings(FuzzCorpus.harmlessCommands[rng.below(FuzzCorpus.harmlessCommands.count)]), nil), (.string("true"), ""),
        ])
        guard setTaskKey(&doc, i, "command", argv) else { return nil }
        let path = "tasks[\(i)].command"
        return ("command \(String(decoding: argv.bytes(), as: UTF8.self)) at tasks[\(i)]", at.map { .at(path + $0) })
    }

    /// Members or tasks in another order: the file stays valid.
    static func reorder(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        guard let steps = pickPlace(doc, &rng, where: { _, v in
            switch v { case .object(let m): m.count > 1; case .array(let a): a.count > 1; default: false }
        }) ?? (rng.chance(1, in: 2) ? [] : nil) else { return nil }
        let path = doc.keyPath(steps) ?? "?"
        doc.update(at: steps[...]) { v in
            switch v {
            case .object(var m): m.shuffle(using: &rng); v = .object(m)
            case .array(var a): a.shuffle(using: &rng); v = .array(a)
            default: break
            }
        }
        return ("reorder \(path.isEmpty ? "the top" : path)", .valid)
    }

    /// A string written with other escapes for the same characters: the file stays valid.
    static func escapeString(_ doc: inout FuzzJSON, _ rng: inout SplitMix64) -> Outcome? {
        let inKey = rng.chance(1, in: 3)
        guard let steps = pickPlace(doc, &rng, where: { steps, v in
            if inKey { if case .member = steps.last!, doc.slot(steps) != .other { return true } else { return false } }
            if case .string = v { return true } else { return false }
        }), let path = doc.keyPath(steps) else { return nil }
        func escaped(_ s: String) -> FuzzJSON {
            var out: [UInt8] = []
            for u in s.unicodeScalars {
                var plain: [UInt8] = []
                FuzzJSON.appendString(String(u), to: &plain)
                if rng.chance(1, in: 2) {
                    if u.value > 0xFFFF {
                        let v = u.value - 0x10000
                        out += Array(hex4(0xD800 + (v >> 10)).utf8) + Array(hex4(0xDC00 + (v & 0x3FF)).utf8)
                    } else if u == "/" && rng.chance(1, in: 2) {
                        out += Array(#"\/"#.utf8)
                    } else {
                        out += Array(hex4(u.value, upper: rng.chance(1, in: 2)).utf8)
                    }
                } else {
                    out += plain.dropFirst().dropLast()
                }
            }
            return .rawString(out)
        }
        if inKey {
            guard case .member(let k) = steps.last! else { return nil }
            doc.update(at: steps.dropLast()) { v in
                if case .object(var m) = v, case .string(let key) = m[k].key { m[k].key = escaped(key); v = .object(m) }
            }
            return ("escape the key \(path)", .valid)
        }
        guard case .string(let s)? = doc.value(at: steps[...]) else { return nil }
        doc.update(at: steps[...]) { $0 = escaped(s) }
        return ("escape the string at \(path)", .valid)
    }

    static func hex4(_ v: UInt32, upper: Bool = false) -> String {
        let digits = String(v, radix: 16, uppercase: upper)
        return #"\u"# + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

// MARK: - Byte mutations

extension FuzzMutator {
    static let tokens: [[UInt8]] = ["\"", "\\", "{", "}", "[", "]", ",", ":", "null", "true", "-", "0", "1e9", "\\u0000", " ", "\n", "\r\n",
                                    "\t"].map { Array($0.utf8) } + [[0x00], [0xFF], [0xC0, 0x80], [0xEF, 0xBB, 0xBF]]

    static func mutateBytes(_ b: inout [UInt8], _ rng: inout SplitMix64) -> Outcome {
        guard !b.isEmpty else { b = [UInt8(ascii: "{")]; return ("bytes: a lone {", .wholeFile("line ")) }
        let at = rng.below(b.count)
        switch rng.below(11) {
        case 0:
            let bit = rng.below(8)
            b[at] ^= 1 << bit
            return ("bytes: flip bit \(bit) of byte \(at)", nil)
        case 1:
            let v = UInt8(truncatingIfNeeded: rng.next())
            b[at] = v
            return ("bytes: byte \(at) set to \(v)", nil)
        case 2:
            let n = 1 + rng.below(4)
            b.insert(contentsOf: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
            return ("bytes: \(n) random bytes inserted at \(at)", nil)
        case 3:
            let n = min(b.count - at, 1 + rng.below(rng.chance(1, in: 4) ? 64 : 4))
            b.removeSubrange(at..<at + n)
            return ("bytes: \(n) deleted at \(at)", nil)
        case 4:
            let n = min(b.count - at, 1 + rng.below(32))
            let slice = Array(b[at..<at + n])
            b.insert(contentsOf: slice, at: rng.below(b.count + 1))
            return ("bytes: \(n) bytes from \(at) copied", nil)
        case 5:
            let keep = rng.below(b.count)
            b.removeSubrange(keep...)
            return ("bytes: truncated to \(keep)", .wholeFile("line "))
        case 6:
            let garbage = rng.pick([Array("x".utf8), Array("{}".utf8), Array(",".utf8), [0], Array("\n}".utf8)])
            b += garbage
            return ("bytes: \(garbage.count) bytes appended", .wholeFile("unexpected text after the end"))
        case 7:
            b.insert(contentsOf: [0xEF, 0xBB, 0xBF], at: 0)
            return ("bytes: a byte order mark in front", .wholeFile("line 1, column 1"))
        case 8:
            let ws = rng.pick([" ", "\n", "\r\n", "\t", "   \n\n"])
            b = Array(ws.utf8) + b + Array(ws.utf8)
            return ("bytes: white space around", .valid)
        default:
            let t = rng.pick(tokens)
            b.insert(contentsOf: t, at: at)
            return ("bytes: token \(String(decoding: t, as: UTF8.self).debugDescription) inserted at \(at)", nil)
        }
    }
}

extension String {
    func replacingOccurrences(_ a: Character, _ b: Character) -> String { String(map { $0 == a ? b : $0 }) }
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
