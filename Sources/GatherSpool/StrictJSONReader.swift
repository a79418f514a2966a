/// A strict JSON reader (RFC 8259) for job files and the spool's own files.
///
/// Foundation's `JSONSerialization` is too lenient for SPEC §4: it keeps the
/// last of duplicate keys, reads `4.0` as `4`, and gives no line and column.
/// This reader checks UTF-8 first, stops at the first syntax error with its
/// line and column, and reports every duplicate key (keeping the first value)
/// so that the validator can report every problem of a file.
public struct StrictJSONReader {
    /// A problem found while reading: a syntax error (fatal) or a duplicate key.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// Key path of a duplicate key (`tasks[0].name`); empty for a syntax error.
        public let path: String
        public let message: String
        public let line: Int
        public let column: Int
        public var description: String {
            path.isEmpty ? "line \(line), column \(column): \(message)"
                : "\(path): \(message) (line \(line), column \(column))"
        }
    }

    /// What a read gives: the value (unless a syntax error stopped it) and every problem.
    public struct Outcome: Sendable {
        public let value: JSONValue?
        public let problems: [Problem]
    }

    /// Nesting deeper than this is refused, so hostile input cannot exhaust the stack.
    public static let maxDepth = 200

    private let bytes: [UInt8]
    private var pos = 0
    private var problems: [Problem] = []

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    private struct SyntaxError: Error { let offset: Int; let message: String }

    /// Reads one JSON document from `bytes`.
    public static func read(_ bytes: [UInt8]) -> Outcome {
        var reader = StrictJSONReader(bytes)
        if let bad = firstInvalidUTF8(bytes) {
            return Outcome(value: nil, problems: [reader.problem(at: bad, "invalid UTF-8")])
        }
        do {
            reader.skipSpace()
            let value = try reader.value(path: "", depth: 0)
            reader.skipSpace()
            if reader.pos < bytes.count { throw SyntaxError(offset: reader.pos, message: "unexpected text after the end of the document") }
            return Outcome(value: value, problems: reader.problems)
        } catch let e as SyntaxError {
            return Outcome(value: nil, problems: reader.problems + [reader.problem(at: e.offset, e.message)])
        } catch {
            return Outcome(value: nil, problems: reader.problems)
        }
    }

    /// The offset of the first byte that is not part of well-formed UTF-8 (overlongs,
    /// surrogates and values past U+10FFFF included); `nil` when all is well.
    static func firstInvalidUTF8(_ b: [UInt8]) -> Int? {
        var i = 0
        while i < b.count {
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            let need: Int, low: UInt8, high: UInt8
            switch c {
            case 0xC2...0xDF: need = 1; low = 0x80; high = 0xBF
            case 0xE0: need = 2; low = 0xA0; high = 0xBF
            case 0xED: need = 2; low = 0x80; high = 0x9F
            case 0xE1...0xEC, 0xEE...0xEF: need = 2; low = 0x80; high = 0xBF
            case 0xF0: need = 3; low = 0x90; high = 0xBF
            case 0xF1...0xF3: need = 3; low = 0x80; high = 0xBF
            case 0xF4: need = 3; low = 0x80; high = 0x8F
            default: return i
            }
            guard i + need < b.count else { return i }
            if !(low...high).contains(b[i + 1]) { return i }
            for k in 2..<(need + 1) where !(0x80...0xBF).contains(b[i + k]) { return i }
            i += need + 1
        }
        return nil
    }

    private func problem(at offset: Int, _ message: String, path: String = "") -> Problem {
        var line = 1, column = 1
        for i in 0..<min(offset, bytes.count) {
            if bytes[i] == 0x0A { line += 1; column = 1 } else if bytes[i] & 0xC0 != 0x80 { column += 1 }
        }
        return Problem(path: path, message: message, line: line, column: column)
    }

    private mutating func skipSpace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    private func describe(_ offset: Int) -> String {
        guard offset < bytes.count else { return "end of file" }
        let c = bytes[offset]
        if c == 0 { return "a NUL character" }
        if c < 0x20 || c == 0x7F { return "a control character" }
        if c < 0x80 { return "'\(Character(Unicode.Scalar(c)))'" }
        return "a non-ASCII character"
    }

    private mutating func value(path: String, depth: Int) throws -> JSONValue {
        guard depth < Self.maxDepth else { throw SyntaxError(offset: pos, message: "nested too deeply") }
        guard pos < bytes.count else { throw SyntaxError(offset: pos, message: "expected a value, found end of file") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try object(path: path, depth: depth)
        case UInt8(ascii: "["): return try array(path: path, depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: throw SyntaxError(offset: pos, message: "expected a value, found \(describe(pos))")
        }
    }

    private mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else {
            throw SyntaxError(offset: pos, message: "expected a value, found \(describe(pos))")
        }
        pos += w.count
    }

    private mutating func object(path: String, depth: Int) throws -> JSONValue {
        pos += 1
        var members: [(key: String, value: JSONValue)] = []
        var seen: Set<String> = []
        skipSpace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
        while true {
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
                throw SyntaxError(offset: pos, message: "expected a key in quotes, found \(describe(pos))")
            }
            let keyOffset = pos
            let key = try string()
            let childPath = JobKeyPath.member(path, key)
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
                throw SyntaxError(offset: pos, message: "expected ':' after a key, found \(describe(pos))")
            }
            pos += 1
            skipSpace()
            let v = try value(path: childPath, depth: depth + 1)
            if seen.insert(key).inserted {
                members.append((key, v))
            } else {
                problems.append(problem(at: keyOffset, "duplicate key", path: childPath))
            }
            skipSpace()
            guard pos < bytes.count else { throw SyntaxError(offset: pos, message: "expected ',' or '}', found end of file") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            throw SyntaxError(offset: pos, message: "expected ',' or '}', found \(describe(pos))")
        }
    }

    private mutating func array(path: String, depth: Int) throws -> JSONValue {
        pos += 1
        var items: [JSONValue] = []
        skipSpace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value(path: "\(path)[\(items.count)]", depth: depth + 1))
            skipSpace()
            guard pos < bytes.count else { throw SyntaxError(offset: pos, message: "expected ',' or ']', found end of file") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw SyntaxError(offset: pos, message: "expected ',' or ']', found \(describe(pos))")
        }
    }

    private mutating func number() throws -> JSONValue {
        let start = pos
        var isInteger = true
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        func digits() -> Int {
            let s = pos
            while pos < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[pos]) { pos += 1 }
            return pos - s
        }
        let intStart = pos
        let n = digits()
        guard n > 0 else { throw SyntaxError(offset: pos, message: "expected a digit, found \(describe(pos))") }
        if n > 1, bytes[intStart] == UInt8(ascii: "0") { throw SyntaxError(offset: intStart, message: "a number must not start with 0") }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard digits() > 0 else { throw SyntaxError(offset: pos, message: "expected a digit after '.', found \(describe(pos))") }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard digits() > 0 else { throw SyntaxError(offset: pos, message: "expected a digit in the exponent, found \(describe(pos))") }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if isInteger, let i = Int64(text) { return .integer(i) }
        return .number(Double(text) ?? .infinity)
    }

    private mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw SyntaxError(offset: pos, message: "expected 4 hex digits after \\u") }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let d = Character(Unicode.Scalar(bytes[pos + k])).hexDigitValue else {
                throw SyntaxError(offset: pos + k, message: "expected 4 hex digits after \\u")
            }
            v = v * 16 + UInt32(d)
        }
        pos += 4
        return v
    }

    private mutating func string() throws -> String {
        pos += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw SyntaxError(offset: pos, message: "unterminated string") }
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") { pos += 1; break }
            if c < 0x20 {
                throw SyntaxError(offset: pos, message: c == 0 ? "NUL character in a string" : "control character in a string (write it as an escape)")
            }
            if c != UInt8(ascii: "\\") { out.append(c); pos += 1; continue }
            let escapeOffset = pos
            pos += 1
            guard pos < bytes.count else { throw SyntaxError(offset: pos, message: "unterminated string") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw SyntaxError(offset: escapeOffset, message: "unpaired surrogate in \\u escape")
                    }
                    pos += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw SyntaxError(offset: escapeOffset, message: "unpaired surrogate in \\u escape")
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw SyntaxError(offset: escapeOffset, message: "unpaired surrogate in \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw SyntaxError(offset: escapeOffset, message: "invalid \\u escape") }
                UTF8.encode(u) { out.append($0) }
            default:
                throw SyntaxError(offset: escapeOffset, message: "invalid escape in a string")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
