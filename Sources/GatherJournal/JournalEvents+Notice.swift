extension JournalEntry {
    /// A line of gatherd's about itself that has no MESSAGE_ID of its own
    /// (SPEC §11's `cgroups: kill, accounting`), PRIORITY 6, or 4 for a warning.
    public static func daemonNotice(_ message: String, warning: Bool = false) -> JournalEntry {
        var entry = JournalEntry()
        entry.appendKnown("MESSAGE", message)
        entry.appendKnown("PRIORITY", warning ? "4" : "6")
        entry.appendKnown("SYSLOG_IDENTIFIER", "gatherd")
        return entry
    }
}
