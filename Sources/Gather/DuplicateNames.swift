/// Finds the names of a list that repeat an earlier one.
///
/// A `Set<String>` does it in one line, but for a group of 100,000 tasks it
/// was the largest cost of defining the group (SipHash through `String`'s
/// hashing, per name, and a table of 16-byte entries). Here: a table of
/// `Int32` positions, a hash of the UTF-8 bytes, multiplicative and seeded at
/// random per call, and linear probing.
///
/// Two limits keep it exactly as correct and as safe as the set:
/// - only ASCII names are compared byte by byte (for them byte equality is
///   `String` equality; a non-ASCII name can equal another with other bytes,
///   through Unicode canonical equivalence), so any other name sends the
///   whole list to the set;
/// - a probe longer than `longestProbe` (names crafted to collide) sends it
///   to the set as well, whose keyed hash was made for hostile keys.
enum DuplicateNames {
    static let longestProbe = 64

    /// The positions of the names equal to an earlier name, in order.
    static func positions(in names: [String]) -> [Int] {
        if let found = byBytes(names) { return found }
        var seen = Set<String>(minimumCapacity: names.count)
        return names.indices.filter { !seen.insert(names[$0]).inserted }
    }

    /// `nil` when a name is not ASCII or a probe grew too long.
    private static func byBytes(_ names: [String]) -> [Int]? {
        guard names.count > 1, names.count < Int(Int32.max) else { return names.count <= 1 ? [] : nil }
        var capacity = 16
        while capacity < names.count * 2 { capacity <<= 1 }
        let mask = capacity - 1
        let seed = UInt64.random(in: .min ... .max) | 1
        var table = [Int32](repeating: -1, count: capacity)
        var found: [Int] = []
        for position in names.indices {
            guard let hash = hash(names[position], seed: seed) else { return nil }
            var slot = Int(truncatingIfNeeded: hash) & mask
            var probes = 0
            while true {
                let other = table[slot]
                if other < 0 {
                    table[slot] = Int32(position)
                    break
                }
                if names[Int(other)] == names[position] {
                    found.append(position)
                    break
                }
                probes += 1
                if probes > longestProbe { return nil }
                slot = (slot + 1) & mask
            }
        }
        return found
    }

    /// A seeded hash of the name's UTF-8 bytes, or `nil` if it is not ASCII.
    private static func hash(_ name: String, seed: UInt64) -> UInt64? {
        let hashed = name.utf8.withContiguousStorageIfAvailable { bytes -> UInt64? in
            var h = seed ^ UInt64(bytes.count)
            var ascii: UInt8 = 0
            var word: UInt64 = 0
            var shift: UInt64 = 0
            for byte in bytes {
                ascii |= byte
                word |= UInt64(byte) << shift
                shift += 8
                if shift == 64 {
                    h = mix(h ^ word)
                    word = 0
                    shift = 0
                }
            }
            guard ascii < 0x80 else { return nil }
            return mix(mix(h ^ word) ^ seed)
        }
        // A string without contiguous UTF-8 (bridged): the set decides.
        return hashed ?? nil
    }

    /// A multiply and xor-shift step (the finaliser of MurmurHash3's 64-bit hash).
    @inline(__always)
    private static func mix(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h &*= 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }
}
