/// A JSON document as the fuzzer builds and mutates it: unlike the daemon's
/// `JSONValue` it can hold what no valid file holds — number tokens written
/// as given (`4.0`, `1e2`, `-0`, a hundred digits), duplicate keys, strings
/// of raw bytes (control characters, invalid UTF-8) and raw text fragments.
public indirect enum FuzzJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number token, written verbatim.
    case number(String)
    /// A string, escaped as JSON on writing.
    case string(String)
    /// A string whose bytes are written between the quotes verbatim.
    case rawString([UInt8])
    case array([FuzzJSON])
    /// Members in order; keys may repeat. A key is `.string` or `.rawString`.
    case object([Member])
    /// Bytes written verbatim in place of a value (deep nesting, garbage).
    case raw([UInt8])

    public struct Member: Sendable, Equatable {
        public var key: FuzzJSON
        public var value: FuzzJSON
        public init(_ key: FuzzJSON, _ value: FuzzJSON) { self.key = key; self.value = value }
        public init(_ key: String, _ value: FuzzJSON) { self.key = .string(key); self.value = value }
        /// The key as the reader would decode it, when it is a plain string.
        public var name: String? { if case .string(let s) = key { s } else { nil } }
    }

    public static func integer(_ i: Int) -> FuzzJSON { .number(String(i)) }
    public static func strings(_ items: [String]) -> FuzzJSON { .array(items.map { .string($0) }) }

    /// The member `key` of an object (the first, as the reader keeps it).
    public subscript(key: String) -> FuzzJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.name == key }?.value
    }

    /// The JSON text. `pretty` puts each member and element on a line of its
    /// own (so that line and column numbers are exercised).
    public func bytes(pretty: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        write(to: &out, indent: pretty ? 0 : nil)
        return out
    }

    func write(to out: inout [UInt8], indent: Int?) {
        func newline(_ depth: Int?) {
            guard let depth else { return }
            out.append(0x0A)
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * depth))
        }
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .number(let token): out += Array(token.utf8)
        case .string(let s): Self.appendString(s, to: &out)
        case .rawString(let b): out.append(0x22); out += b; out.append(0x22)
        case .raw(let b): out += b
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent.map { $0 + 1 })
                item.write(to: &out, indent: indent.map { $0 + 1 })
            }
            if !items.isEmpty { newline(indent) }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent.map { $0 + 1 })
                m.key.write(to: &out, indent: nil)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(UInt8(ascii: " ")) }
                m.value.write(to: &out, indent: indent.map { $0 + 1 })
            }
            if !members.isEmpty { newline(indent) }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// `s` as a JSON string: `"`, `\` and control characters escaped.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.reserveCapacity(out.count + s.utf8.count + 2)
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0..<0x20, 0x7F: out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}

/// A place in a document: the keys and indices from the top.
public enum FuzzStep: Sendable, Equatable {
    /// The member at this position of an object (positions, not names: keys may repeat).
    case member(Int)
    case element(Int)
}

extension FuzzJSON {
    /// Every value of the document with its steps, the top first.
    func places(_ prefix: [FuzzStep] = []) -> [(steps: [FuzzStep], value: FuzzJSON)] {
        var out: [(steps: [FuzzStep], value: FuzzJSON)] = [(prefix, self)]
        switch self {
        case .array(let items):
            for (i, item) in items.enumerated() { out += item.places(prefix + [.element(i)]) }
        case .object(let members):
            for (i, m) in members.enumerated() { out += m.value.places(prefix + [.member(i)]) }
        default: break
        }
        return out
    }

    /// The value at `steps`.
    func value(at steps: ArraySlice<FuzzStep>) -> FuzzJSON? {
        guard let first = steps.first else { return self }
        switch (self, first) {
        case (.array(let items), .element(let i)) where items.indices.contains(i): return items[i].value(at: steps.dropFirst())
        case (.object(let members), .member(let i)) where members.indices.contains(i): return members[i].value.value(at: steps.dropFirst())
        default: return nil
        }
    }

    /// Replaces the value at `steps` with what `change` makes of it.
    mutating func update(at steps: ArraySlice<FuzzStep>, _ change: (inout FuzzJSON) -> Void) {
        guard let first = steps.first else { change(&self); return }
        switch (self, first) {
        case (.array(var items), .element(let i)) where items.indices.contains(i):
            items[i].update(at: steps.dropFirst(), change)
            self = .array(items)
        case (.object(var members), .member(let i)) where members.indices.contains(i):
            members[i].value.update(at: steps.dropFirst(), change)
            self = .object(members)
        default: break
        }
    }

    /// The validator's key path of `steps` (`tasks[2].command[0]`), when
    /// every key on the way is a plain string.
    func keyPath(_ steps: [FuzzStep]) -> String? {
        var path = ""
        var node = self
        for step in steps {
            switch (node, step) {
            case (.array(let items), .element(let i)) where items.indices.contains(i):
                path += "[\(i)]"
                node = items[i]
            case (.object(let members), .member(let i)) where members.indices.contains(i):
                guard let name = members[i].name else { return nil }
                path = FuzzMutator.join(path, name)
                node = members[i].value
            default: return nil
            }
        }
        return path
    }
}
