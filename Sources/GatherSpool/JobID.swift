/// Job IDs (SPEC §3): a dropped file's name without `.json`, when it matches
/// `^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$`; otherwise a sanitised form under
/// which the file is rejected.
public enum JobID {
    /// Whether `name` (bytes of a directory entry) is a job file to claim:
    /// it does not start with `.` and ends with `.json`.
    public static func isCandidate(_ name: [UInt8]) -> Bool {
        name.count > 5 && name.first != UInt8(ascii: ".") && name.suffix(5).elementsEqual(".json".utf8) && !name.contains(UInt8(ascii: "/"))
    }

    /// Whether `id` matches `^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$`.
    public static func isValid(_ id: [UInt8]) -> Bool {
        guard (1...100).contains(id.count), TextRules.isAlnum(id[0]) else { return false }
        return id.allSatisfy(isIDByte)
    }

    static func isIDByte(_ c: UInt8) -> Bool {
        TextRules.isAlnum(c) || [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "@"), UInt8(ascii: "+"), UInt8(ascii: "-")].contains(c)
    }

    /// The sanitised ID of an invalid stem: each byte outside the set becomes
    /// `_`, a first byte that is not a letter or digit becomes `x`, cut to 100 bytes.
    public static func sanitized(_ stem: [UInt8]) -> String {
        var out = stem.prefix(100).map { isIDByte($0) ? $0 : UInt8(ascii: "_") }
        if out.isEmpty { out = [UInt8(ascii: "x")] }
        if !TextRules.isAlnum(out[0]) { out[0] = UInt8(ascii: "x") }
        return String(decoding: out, as: UTF8.self)
    }

    /// The ID a dropped file's name asks for, and whether the name was valid.
    public static func requested(byFileName name: [UInt8]) -> (id: String, valid: Bool) {
        let stem = Array(name.dropLast(5))
        if isValid(stem) { return (String(decoding: stem, as: UTF8.self), true) }
        return (sanitized(stem), false)
    }
}
