import GatherSystem
import Testing
@testable import GatherSpool

@Suite struct JSONWriterTests {
    /// Every kind of value and string the writer escapes, nested.
    static let sample: JSONValue = .object([
        ("null", .null), ("yes", .bool(true)), ("no", .bool(false)),
        ("integers", .array([.integer(0), .integer(-1), .integer(42), .integer(.max), .integer(.min)])),
        ("numbers", .array([.number(1.5), .number(4.0), .number(-0.0), .number(0.1), .number(1e100), .number(.leastNonzeroMagnitude),
                            .number(-2.5e-8), .number(123_456_789_012_345_680)])),
        ("escapes", .string("quote \" backslash \\ newline \n return \r tab \t nul \u{0} bell \u{7} esc \u{1B} us \u{1F} del \u{7F} end")),
        ("every control", .string(String(decoding: Array(UInt8(0)...0x20) + [0x7F], as: UTF8.self))),
        ("text", .array([.string("é"), .string("🚀"), .string("\u{2028}\u{2029}"), .string("naïve café, 日本語, 👩‍👩‍👧")])),
        ("\"key\"\n\u{1}é", .string("")),
        ("empties", .array([.array([]), .object([]), .string(""), .array([.array([])]), .object([("", .object([]))])])),
        ("nested", .object([("a", .array([.object([("b", .array([.integer(1), .string("x\ty")]))])]))])),
        ("long", .string(String(repeating: "a run of plain text ", count: 20) + "\"" + String(repeating: "é", count: 40))),
    ])

    @Test func writesTheSameBytesAsTheReference() {
        for pretty in [true, false] {
            let expected = Array(ReferenceJSON.text(Self.sample, pretty: pretty).utf8)
            #expect(Self.sample.serializedBytes(pretty: pretty) == expected)
            #expect(Self.sample.serialized(pretty: pretty) == ReferenceJSON.text(Self.sample, pretty: pretty))
            #expect(Self.sample.serializedBytes(pretty: pretty, trailingNewline: true) == expected + [0x0A])
            guard case .object(let members) = Self.sample else { continue }
            for member in members {
                #expect(member.value.serializedBytes(pretty: pretty) == Array(ReferenceJSON.text(member.value, pretty: pretty).utf8),
                        "\(member.key)")
            }
        }
    }

    @Test func layoutAndEscapesAsWritten() {
        let value: JSONValue = .object([
            ("a", .array([.integer(1), .object([])])), ("b", .object([("c", .null)])), ("d", .array([])),
            ("e", .string("\"\\\n\r\t\u{0}\u{1F}\u{7F}é🚀\u{2028}")), ("f", .number(.nan)), ("g", .number(-.infinity)),
        ])
        let pretty = """
            {
              "a": [
                1,
                {}
              ],
              "b": {
                "c": null
              },
              "d": [],
              "e": "\\"\\\\\\n\\r\\t\\u0000\\u001f\\u007fé🚀\u{2028}",
              "f": null,
              "g": null
            }
            """
        #expect(value.serializedBytes() == Array(pretty.utf8))
        let line = #"{"a":[1,{}],"b":{"c":null},"d":[],"e":"\"\\\n\r\t\u0000\u001f\u007fé🚀"# + "\u{2028}" + #"","f":null,"g":null}"#
        #expect(value.serializedBytes(pretty: false) == Array(line.utf8))
        #expect(JSONValue.integer(.min).serializedBytes() == Array("-9223372036854775808".utf8))
        #expect(JSONValue.array([]).serializedBytes(trailingNewline: true) == Array("[]\n".utf8))
        #expect(JSONValue.string("").serializedBytes() == Array("\"\"".utf8))
    }

    @Test func readsBackAsTheSameValue() throws {
        for pretty in [true, false] {
            let read = try #require(StrictJSONReader.read(Self.sample.serializedBytes(pretty: pretty, trailingNewline: true)).value)
            #expect(read == Self.sample)
        }
    }

    /// A JSON line written directly, without a value tree around its strings.
    @Test func stringsAloneForLinesOfOurOwn() throws {
        var writer = ByteWriter()
        writer.append("{\"id\":")
        JSONValue.appendString("job \"1\"\n", to: &writer)
        writer.append(",\"pid\":")
        writer.append(decimal: Int64(4242))
        writer.append("}\n")
        let expected = JSONValue.object([("id", .string("job \"1\"\n")), ("pid", .integer(4242))])
        #expect(writer.bytes == expected.serializedBytes(pretty: false, trailingNewline: true))
        #expect(StrictJSONReader.read(writer.bytes).value == expected)
    }
}

/// The String-appending serializer this writer replaced, kept as the reference
/// its bytes must equal.
enum ReferenceJSON {
    static func text(_ value: JSONValue, pretty: Bool) -> String {
        var out = ""
        write(value, to: &out, indent: pretty ? 0 : nil)
        return out
    }

    private static func write(_ value: JSONValue, to out: inout String, indent: Int?) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .number(let d): out += d.isFinite ? "\(d)" : "null"
        case .string(let s): writeString(s, to: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                if let indent { out += "\n" + String(repeating: "  ", count: indent + 1) }
                write(item, to: &out, indent: indent.map { $0 + 1 })
            }
            if let indent { out += "\n" + String(repeating: "  ", count: indent) }
            out += "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += "," }
                if let indent { out += "\n" + String(repeating: "  ", count: indent + 1) }
                writeString(member.key, to: &out)
                out += indent == nil ? ":" : ": "
                write(member.value, to: &out, indent: indent.map { $0 + 1 })
            }
            if let indent { out += "\n" + String(repeating: "  ", count: indent) }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
