/// The last bytes of a stream, kept in a fixed ring: memory stays at
/// `capacity` however much the process writes.
struct StderrTail {
    /// SPEC §6: the last 4 KiB of stderr.
    static let capacity = 4096

    private var ring = [UInt8](repeating: 0, count: 0)
    /// Where the next byte goes once the ring is full; also the oldest byte.
    private var next = 0

    /// Adds bytes, dropping the oldest beyond the capacity.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let capacity = Self.capacity
        var input = bytes
        if input.count > capacity {
            input = UnsafeRawBufferPointer(rebasing: input[(input.count - capacity)...])
        }
        // Fill up first; the ring is allocated only for processes that write to stderr.
        let fill = min(capacity - ring.count, input.count)
        if fill > 0 {
            ring.append(contentsOf: input[..<fill])
            input = UnsafeRawBufferPointer(rebasing: input[fill...])
        }
        while !input.isEmpty {
            let run = min(capacity - next, input.count)
            ring.withUnsafeMutableBytes { target in
                target.baseAddress!.advanced(by: next).copyMemory(from: input.baseAddress!, byteCount: run)
            }
            next = (next + run) % capacity
            input = UnsafeRawBufferPointer(rebasing: input[run...])
        }
    }

    /// The kept bytes in order.
    var bytes: [UInt8] {
        ring.count < Self.capacity ? ring : Array(ring[next...] + ring[..<next])
    }

    /// The tail as text: starts at a character boundary (a partial UTF-8
    /// sequence at the cut is dropped), invalid UTF-8 becomes U+FFFD, and the
    /// result is at most 4 KiB of UTF-8 (replacements can grow it; then whole
    /// characters are dropped from the front).
    var text: String {
        var bytes = self.bytes
        var skip = 0
        // Continuation bytes (10xxxxxx) at the cut belong to a character that
        // started before it; at most 3 of them.
        while skip < 3, skip < bytes.count, bytes[skip] & 0xC0 == 0x80 { skip += 1 }
        if skip > 0, bytes.count == Self.capacity { bytes.removeFirst(skip) }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.utf8.count > Self.capacity { text.removeFirst() }
        return text
    }
}
