#if canImport(Glibc)
import Glibc
#endif

/// Whether the caller may read the system journal, where gatherd's entries
/// are. sd-journal opens only the files it may read and says nothing of the
/// others, so a user without the right would see no entries and no error.
enum JournalAccess: Equatable {
    case allowed
    /// The system journal file the caller may not read.
    case denied(String)
    /// No system journal file was found to ask (no journald, another layout).
    case unknown

    /// The answer for this process: root may; else the system journal file
    /// (`system.journal` in the machine's directory under `/var/log/journal`
    /// or `/run/log/journal`) is readable or not, as journald's group and
    /// ACLs (`systemd-journal`, `adm`) make it.
    static func current() -> JournalAccess {
        if geteuid() == 0 { return .allowed }
        guard let machineID = machineID() else { return .unknown }
        var denied: String?
        for root in ["/var/log/journal", "/run/log/journal"] {
            let path = "\(root)/\(machineID)/system.journal"
            if access(path, R_OK) == 0 { return .allowed }
            // EACCES: the file or its directory (journald's 2750) is closed to the caller.
            if errno == EACCES { denied = denied ?? path }
        }
        return denied.map(JournalAccess.denied) ?? .unknown
    }

    /// `/etc/machine-id`'s 32 hex digits.
    private static func machineID() -> String? {
        let fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(fd, &buffer, buffer.count)
        guard count >= 32 else { return nil }
        let id = String(decoding: buffer.prefix(32), as: UTF8.self)
        return id.allSatisfy(\.isHexDigit) ? id : nil
    }
}
