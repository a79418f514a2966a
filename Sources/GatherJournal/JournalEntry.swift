import GatherSystem
/// One journal entry: an ordered list of fields, sent as-is with `sd_journal_sendv`.
///
/// Order is kept and names may repeat (SPEC §7 sends one `GATHER_FAILURE` per
/// error; journald stores the repeats and `journalctl -o json` shows them as an
/// array). Every name is checked against journald's rules when it is added, so
/// a field is never silently dropped by journald: it is refused here, loudly.
public struct JournalEntry: Sendable, Equatable {
    /// One `NAME=value` field. The value is bytes: it may hold newlines and any UTF-8.
    public struct Field: Sendable, Equatable {
        public let name: String
        public let value: [UInt8]

        /// The value as text (invalid UTF-8 replaced), for stderr lines and tests.
        public var text: String { String(decoding: value, as: UTF8.self) }
    }

    /// The fields in the order they will be sent.
    public private(set) var fields: [Field] = []

    /// An empty entry; add fields with ``append(_:_:)``.
    public init() {}

    /// An entry from `(name, value)` pairs, checked in order.
    /// - Throws: ``JournalError`` with code `.invalidFieldName` for the first bad name.
    public init(_ pairs: KeyValuePairs<String, String>) throws(JournalError) {
        for (name, value) in pairs { try append(name, value) }
    }

    /// Adds a field with a text value.
    /// - Parameters:
    ///   - name: a journald field name: `A`–`Z`, `0`–`9`, `_`, 1–64 characters,
    ///     not starting with `_` (reserved for fields journald adds) or a digit.
    ///   - value: any text, newlines included.
    /// - Throws: ``JournalError`` with code `.invalidFieldName`; the entry is unchanged.
    public mutating func append(_ name: String, _ value: String) throws(JournalError) {
        try append(name, bytes: Array(value.utf8))
    }

    /// Adds a field with a byte value (task output that is not valid UTF-8 stays as it was).
    public mutating func append(_ name: String, bytes: [UInt8]) throws(JournalError) {
        if let problem = JournalEntry.problem(withName: name) {
            throw JournalError(.invalidFieldName, field: name, detail: problem)
        }
        fields.append(Field(name: name, value: bytes))
    }

    /// Adds a field whose name is a compile-time constant of this library, known to be valid.
    mutating func appendKnown(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: Array(value.utf8)))
    }

    mutating func appendKnown(_ name: String, bytes: [UInt8]) {
        fields.append(Field(name: name, value: bytes))
    }

    mutating func appendFields(_ more: [Field]) {
        fields.append(contentsOf: more)
    }

    mutating func reserveFields(_ count: Int) {
        fields.reserveCapacity(count)
    }

    /// The values of every field called `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name == name }.map(\.text)
    }

    /// The first value of `name`, if any.
    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.text
    }

    /// The journal's `MESSAGE`, or an empty string.
    public var message: String { self["MESSAGE"] ?? "" }

    /// The syslog level `0`…`7` in `PRIORITY`, or 6 (info) when absent or malformed.
    public var priority: Int {
        guard let text = self["PRIORITY"], let level = Int(text), (0...7).contains(level) else { return 6 }
        return level
    }

    /// Why `name` is not a valid journald field name, or `nil` when it is.
    ///
    /// journald (`journal_field_valid`) drops fields whose names break these
    /// rules, and any name starting with `_` is a trusted field that clients
    /// may not set; both would vanish without an error, so they are refused.
    public static func problem(withName name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "is empty" }
        if bytes.count > 64 { return "is longer than 64 characters" }
        if bytes[0] == UInt8(ascii: "_") { return "starts with '_' (reserved for journald's trusted fields)" }
        if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[0]) { return "starts with a digit" }
        for byte in bytes {
            let upper = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            let digit = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            if !(upper || digit || byte == UInt8(ascii: "_")) {
                return "holds a character other than A-Z, 0-9 and '_'"
            }
        }
        return nil
    }
}

/// An error of the journal layer. `description` is the line a person reads.
public struct JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        public var description: String { raw }
        /// A field name journald would drop.
        public static let invalidFieldName = Code(raw: "invalid field name")
        /// `sd_journal_sendv` failed.
        public static let sendFailed = Code(raw: "send failed")
        /// Opening or reading the journal (sd-journal) failed.
        public static let readFailed = Code(raw: "read failed")
    }

    public let code: Code
    /// The field concerned, if any.
    public let field: String?
    /// The errno libsystemd reported (its negative return value, negated), if any.
    public let errno: Int32?
    /// Further context.
    public let detail: String

    public init(_ code: Code, field: String? = nil, errno: Int32? = nil, detail: String) {
        self.code = code
        self.field = field
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        var text = "journal: \(code)"
        if let field { text += " '\(field)'" }
        text += ": \(detail)"
        if let errno { text += " (\(Errno(errno)))" }
        return text
    }
}
