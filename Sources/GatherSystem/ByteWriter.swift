/// A growing buffer of bytes that text formats are written into: the JSON of
/// records and `state.json`, and any other text the daemon writes whole.
///
/// Writing bytes straight into one array costs one copy per byte, where
/// appending to a `String` and converting it afterwards costs a grapheme-aware
/// append and a second copy. Everything here appends in bulk where it can:
/// literal text from its static storage, a string's UTF-8 from its contiguous
/// storage, integers digit by digit without an intermediate `String`.
///
/// The small methods are `@inlinable` so that callers in other targets, which
/// append a byte at a time, get them inlined instead of a call per byte.
public struct ByteWriter: Sendable {
    @usableFromInline
    internal var storage: [UInt8]

    /// An empty writer.
    /// - Parameter capacity: bytes to reserve up front, if the size is known roughly.
    @inlinable
    public init(capacity: Int = 0) {
        storage = []
        if capacity > 0 { storage.reserveCapacity(capacity) }
    }

    /// The bytes written so far.
    @inlinable
    public var bytes: [UInt8] { storage }

    /// How many bytes were written.
    @inlinable
    public var count: Int { storage.count }

    /// Makes room for at least `capacity` bytes in all, so that writing up to
    /// that size allocates no more. Reserve once, up front: reserving a little
    /// more before each write makes the buffer grow by that little each time.
    @inlinable
    public mutating func reserveCapacity(_ capacity: Int) {
        storage.reserveCapacity(capacity)
    }

    /// Appends one byte.
    @inlinable
    public mutating func append(_ byte: UInt8) {
        storage.append(byte)
    }

    /// Appends `byte` `count` times (indentation, padding).
    @inlinable
    public mutating func append(repeating byte: UInt8, count: Int) {
        // A plain loop: appending a `repeatElement` goes through its iterator,
        // and reserving an exact size here would undo the array's
        // geometric growth (a copy on every call once it is full).
        for _ in 0..<max(count, 0) { storage.append(byte) }
    }

    /// Appends bytes as they are.
    @inlinable
    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        storage.append(contentsOf: bytes)
    }

    /// Appends a literal's UTF-8 bytes, copied from its static storage.
    @inlinable
    public mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { storage.append(contentsOf: $0) }
    }

    /// Appends a string's UTF-8 bytes, in one copy when the string is stored
    /// contiguously (native and small strings are).
    @inlinable
    public mutating func append(utf8 string: String) {
        let copied: Void? = string.utf8.withContiguousStorageIfAvailable { storage.append(contentsOf: $0) }
        if copied == nil { storage.append(contentsOf: string.utf8) }
    }

    /// Appends a signed integer in decimal: a `-` when negative, no leading zeros.
    @inlinable
    public mutating func append(decimal value: Int64) {
        if value < 0 { storage.append(UInt8(ascii: "-")) }
        // The magnitude is unsigned, so Int64.min needs no special case.
        append(decimal: value.magnitude)
    }

    /// Appends an unsigned integer in decimal, no leading zeros.
    @inlinable
    public mutating func append(decimal value: UInt64) {
        // The digits come last first, so they are put in place from the end of
        // a buffer on the stack (20 digits hold UInt64.max), then copied at once.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var rest = value
            var start = digits.count
            repeat {
                let (quotient, digit) = rest.quotientAndRemainder(dividingBy: 10)
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: digit)
                rest = quotient
            } while rest != 0
            storage.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }
}
