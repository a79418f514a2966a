/// The last bytes of a stream, kept in a fixed ring: memory stays at
/// `capacity` however much the process writes.
///
/// Only bytes: the record renders them as text once (`StderrTailText` in
/// GatherSpool: the character-boundary cut, U+FFFD, the per-record cap).
struct LastBytesRing {
    /// SPEC §6: the last 4 KiB of stderr (the record's `JobRecord.tailLimit`;
    /// this target cannot import GatherSpool).
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
}
