/// A JSON value as gatherd reads and writes it: objects keep their key order
/// (records are written in the order SPEC §6 shows), and integers are kept
/// apart from other numbers, so `4.0` or `1e2` is never taken for an integer.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number written with neither fraction nor exponent, that fits 64 bits.
    case integer(Int64)
    /// Any other number (`4.0`, `1e2`, `1.5`, or an integer too large for 64 bits).
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members in file order; a duplicate key is reported by the reader and only its first value kept.
    case object([(key: String, value: JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.integer(let x), .integer(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The member `key` of an object; `nil` for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The JSON type's name, for messages (`expected a string, found a number`).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
