import GatherSystem

/// JSON text as gatherd writes it (records, `state.json`, `gatherctl --json`):
/// objects and arrays indented by two spaces, or on one line; strings escape
/// `"`, `\`, `\n`, `\r`, `\t` and other control characters (and DEL) as
/// `\u00XX`, and keep all other text as UTF-8.
///
/// Written as bytes into a ``ByteWriter``: a `state.json` is rewritten whenever
/// a process starts or ends, and is as long as the job has tasks, so its text
/// goes to the file without a `String` in between.
extension JSONValue {
    /// The value as JSON text: two-space indented objects and arrays, or one
    /// line when `pretty` is false.
    /// - Parameters:
    ///   - pretty: indent objects and arrays; `false`: one line.
    ///   - trailingNewline: end with a line feed (a file's last line).
    public func serializedBytes(pretty: Bool = true, trailingNewline: Bool = false) -> [UInt8] {
        var writer = ByteWriter()
        write(to: &writer, indent: pretty ? 0 : nil)
        if trailingNewline { writer.append(UInt8(ascii: "\n")) }
        return writer.bytes
    }

    /// The value as JSON text (``serializedBytes(pretty:trailingNewline:)`` as a
    /// string), for what prints it.
    public func serialized(pretty: Bool = true) -> String {
        String(decoding: serializedBytes(pretty: pretty), as: UTF8.self)
    }

    /// Appends the value as JSON text.
    /// - Parameters:
    ///   - writer: where the text goes.
    ///   - indent: the depth the value starts at (0 at the top): members and
    ///     elements go on lines of their own, indented two spaces a level
    ///     deeper; `nil` writes the value on one line.
    public func write(to writer: inout ByteWriter, indent: Int?) {
        switch self {
        case .null: writer.append("null")
        case .bool(let b): writer.append(b ? "true" : "false")
        case .integer(let i): writer.append(decimal: i)
        case .number(let d):
            // JSON has no NaN or infinity; records never hold them, but never write invalid JSON.
            if d.isFinite { writer.append(utf8: d.description) } else { writer.append("null") }
        case .string(let s): JSONValue.appendString(s, to: &writer)
        case .array(let items):
            if items.isEmpty { writer.append("[]"); return }
            writer.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { writer.append(UInt8(ascii: ",")) }
                JSONValue.newline(indent.map { $0 + 1 }, to: &writer)
                item.write(to: &writer, indent: indent.map { $0 + 1 })
            }
            JSONValue.newline(indent, to: &writer)
            writer.append(UInt8(ascii: "]"))
        case .object(let members):
            if members.isEmpty { writer.append("{}"); return }
            writer.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { writer.append(UInt8(ascii: ",")) }
                JSONValue.newline(indent.map { $0 + 1 }, to: &writer)
                JSONValue.appendString(member.key, to: &writer)
                if indent == nil { writer.append(UInt8(ascii: ":")) } else { writer.append(": ") }
                member.value.write(to: &writer, indent: indent.map { $0 + 1 })
            }
            JSONValue.newline(indent, to: &writer)
            writer.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `string` as a JSON string, quotes included, so that code can
    /// write JSON without building a ``JSONValue`` around its text.
    /// - Parameters:
    ///   - string: any text; it is escaped as the type's description says.
    ///   - writer: where the text goes.
    public static func appendString(_ string: String, to writer: inout ByteWriter) {
        writer.append(UInt8(ascii: "\""))
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { appendEscaped($0, to: &writer) }
        if done == nil { Array(string.utf8).withUnsafeBufferPointer { appendEscaped($0, to: &writer) } }
        writer.append(UInt8(ascii: "\""))
    }

    /// The line break and indentation before a member or closing bracket at
    /// depth `indent`; nothing on one line.
    private static func newline(_ indent: Int?, to writer: inout ByteWriter) {
        guard let indent else { return }
        writer.append(UInt8(ascii: "\n"))
        writer.append(repeating: UInt8(ascii: " "), count: 2 * indent)
    }

    /// Copies UTF-8 text, escaped. Every byte that needs an escape is ASCII, and
    /// no byte of a multi-byte sequence is ASCII, so the scan goes byte by byte
    /// and copies each run between escapes in one piece.
    private static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to writer: inout ByteWriter) {
        var run = 0
        for i in 0..<utf8.count {
            let byte = utf8[i]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0x7F else { continue }
            if run < i { writer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run..<i])) }
            run = i + 1
            switch byte {
            case UInt8(ascii: "\""): writer.append("\\\"")
            case UInt8(ascii: "\\"): writer.append("\\\\")
            case UInt8(ascii: "\n"): writer.append("\\n")
            case UInt8(ascii: "\r"): writer.append("\\r")
            case UInt8(ascii: "\t"): writer.append("\\t")
            default:
                writer.append("\\u00")
                writer.append(hexDigit(byte >> 4))
                writer.append(hexDigit(byte & 0x0F))
            }
        }
        if run < utf8.count { writer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run...])) }
    }

    /// `0`…`9`, `a`…`f`.
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
