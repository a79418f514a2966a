/// The entries the writer sent to journald in the last few seconds, kept so
/// they can be written to stderr when it turns out journald may never have
/// read them: its socket went away, or a send failed (journald killed with
/// datagrams still in its socket's queue).
///
/// Bounded by age and by count and bytes, so memory stays bounded however fast
/// tasks write. The defaults cover what journald's socket can hold unread
/// (journald asks for an 8 MiB receive buffer; systemd sets
/// `net.unix.max_dgram_qlen` to 512), the time a send may block while journald
/// is slow aside. An entry pushed out by the count or byte bound, or older
/// than the age bound when a loss is found, is not replayed.
struct RecentEntries {
    /// How much is kept.
    struct Limits: Sendable {
        /// Entries sent longer ago than this are dropped (nanoseconds).
        var age: UInt64 = 5_000_000_000
        var count = 10_000
        /// The size of the entries as sent (names, values, separators).
        var bytes = 8 << 20
    }

    struct Item {
        var entry: JournalEntry
        var isOutput: Bool
        /// When `sd_journal_sendv` returned (monotonic ns).
        var sentAt: UInt64
        var size: Int
    }

    let limits: Limits
    /// Oldest first; the live part starts at `head` (dropping from the front
    /// moves an index, and the array is compacted now and then).
    private var items: [Item] = []
    private var head = 0
    private(set) var bytes = 0

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }

    /// Keeps `entry`, sent at `now`, dropping the oldest beyond the count and byte bounds.
    mutating func append(_ entry: JournalEntry, isOutput: Bool, sentAt now: UInt64) {
        let size = entry.fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.count + 2 }
        items.append(Item(entry: entry, isOutput: isOutput, sentAt: now, size: size))
        bytes += size
        while count > max(limits.count, 0) || (bytes > limits.bytes && count > 0) { dropFirst() }
        compactIfWorthIt()
    }

    /// Drops what was sent longer than the age bound before `now`.
    mutating func prune(now: UInt64) {
        while head < items.count, now &- items[head].sentAt > limits.age { dropFirst() }
        compactIfWorthIt()
    }

    /// Everything kept, oldest first; the ring is empty after.
    mutating func removeAll() -> ArraySlice<Item> {
        let kept = items[head...]
        items = []
        head = 0
        bytes = 0
        return kept
    }

    private mutating func dropFirst() {
        bytes -= items[head].size
        // Release the entry now, not at the next compaction.
        items[head].entry = JournalEntry()
        head += 1
    }

    private mutating func compactIfWorthIt() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeSubrange(..<head)
            head = 0
        }
    }
}
