import CLinux

/// One `struct inotify_event` as read from an inotify descriptor (the spool
/// watcher's directories, the child watcher's `cgroup.events` files).
///
/// The records are decoded by hand: Swift cannot read a C struct that ends in
/// a flexible array member, so the layout is taken from the kernel ABI
/// (`wd`, `mask`, `cookie`, `len` as 4-byte fields, then `len` bytes of name
/// padded with NULs) and checked by `_Static_assert`s in the CLinux shim.
public struct InotifyRecord: Hashable, Sendable {
    public var watch: Int32
    public var mask: UInt32
    public var cookie: UInt32
    /// The name without its NUL padding; empty for events on the watched
    /// directory itself (`IN_IGNORED`, `IN_Q_OVERFLOW`…).
    public var name: [UInt8]

    public init(watch: Int32, mask: UInt32, cookie: UInt32, name: [UInt8]) {
        self.watch = watch
        self.mask = mask
        self.cookie = cookie
        self.name = name
    }

    /// Size of the fixed part before the name.
    public static let headerSize = Int(CLINUX_INOTIFY_EVENT_HEADER)

    /// Decodes every complete record in `buffer` (what one `read` returned).
    /// A truncated tail — which the kernel never produces — is dropped rather
    /// than read past the end.
    public static func decode(_ buffer: UnsafeRawBufferPointer) -> [InotifyRecord] {
        var records: [InotifyRecord] = []
        var offset = 0
        while buffer.count - offset >= headerSize {
            let watch = buffer.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            let mask = buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let cookie = buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            let nameStart = offset + headerSize
            guard length <= buffer.count - nameStart else { break }
            let padded = buffer[nameStart..<nameStart + length]
            let name = Array(padded.prefix { $0 != 0 })
            records.append(InotifyRecord(watch: watch, mask: mask, cookie: cookie, name: name))
            offset = nameStart + length
        }
        return records
    }

    /// Encodes records the way the kernel does (name NUL-padded to a multiple
    /// of 4 bytes) — for tests of `decode` with buffers no kernel would make.
    public static func encode(_ records: [InotifyRecord]) -> [UInt8] {
        var bytes: [UInt8] = []
        for record in records {
            let length = record.name.isEmpty ? 0 : (record.name.count + 4) / 4 * 4
            for value in [UInt32(bitPattern: record.watch), record.mask, record.cookie, UInt32(length)] {
                withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
            }
            bytes.append(contentsOf: record.name)
            bytes.append(contentsOf: repeatElement(0, count: length - record.name.count))
        }
        return bytes
    }
}
