/// The one place a task's stderr bytes become the record's `stderr_tail`
/// text (SPEC §6): the last bytes, cut at a character boundary, invalid UTF-8
/// replaced by U+FFFD, each tail and all tails of a record capped.
///
/// The bytes come unrendered from the process layer (its ring keeps the last
/// 4 KiB) or, for a record read back, as the text written before; rendering
/// that text again leaves it as it is.
public enum StderrTailText {
    /// The last `limit` bytes of `bytes` as text: at most `limit` bytes of
    /// UTF-8, invalid UTF-8 replaced by U+FFFD.
    ///
    /// Bytes that fill the limit may begin inside a character whose start was
    /// cut off (by this cut, or by the process layer's ring, which keeps
    /// exactly 4 KiB): up to 3 continuation bytes there are dropped. A shorter
    /// tail is the whole stream, so a continuation byte at its start is
    /// invalid UTF-8 like any other.
    public static func tail(_ bytes: [UInt8], limit: Int) -> String {
        guard limit > 0 else { return "" }
        var start = max(0, bytes.count - limit)
        if bytes.count >= limit {
            var skipped = 0
            while start < bytes.count, skipped < 3, bytes[start] & 0xC0 == 0x80 { start += 1; skipped += 1 }
        }
        var text = String(decoding: bytes[start...], as: UTF8.self)
        // A replacement character (3 bytes) may stand for 1 invalid byte: cut again to the limit.
        while text.utf8.count > limit { text.removeFirst() }
        return text
    }

    /// Each tail capped to `each`; if together they exceed `total`, each is
    /// shortened to an equal share of it.
    public static func capped(_ tails: [[UInt8]], each: Int, total: Int) -> [String] {
        var texts = tails.map { tail($0, limit: each) }
        let sum = texts.reduce(0) { $0 + $1.utf8.count }
        let nonEmpty = texts.filter { !$0.isEmpty }.count
        if sum > total, nonEmpty > 0 {
            let share = total / nonEmpty
            texts = texts.map { $0.utf8.count > share ? tail(Array($0.utf8), limit: share) : $0 }
        }
        return texts
    }
}
