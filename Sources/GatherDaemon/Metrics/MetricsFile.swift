import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// The `--metrics-file` on disk: each write goes to a temporary file beside it
/// (`.NAME.tmp`, same directory, so same file system) and is renamed over it,
/// so a reader (node_exporter's textfile collector) sees the old text or the
/// new, never a part. Not synced: after a crash the next start writes it anew.
struct MetricsFile: Sendable {
    let path: String
    let temporary: String

    init(path: String) {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporary = directory + "." + name + ".tmp"
    }

    /// Replaces the file's contents with `bytes`.
    /// - Throws: what failed, with the system call and the path.
    func write(_ bytes: [UInt8]) throws(SystemCallError) {
        // A new file each time (O_EXCL|O_NOFOLLOW, as every file the daemon
        // makes): what a crash left there is removed first, and anything
        // planted in between makes the open fail rather than be written through.
        unlink(temporary)
        let fd = try SystemCall.call("open \(temporary)") {
            open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        }.get()
        if let error = SystemCall.writeAll(fd, bytes) {
            SystemCall.close(fd)
            unlink(temporary)
            throw SystemCallError("write \(temporary)", errno: error)
        }
        SystemCall.close(fd)
        do {
            _ = try SystemCall.call("rename \(temporary) to \(path)") { rename(temporary, path) }.get()
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
