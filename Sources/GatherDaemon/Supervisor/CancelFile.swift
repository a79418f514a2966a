#if canImport(Glibc)
import Glibc
#endif

/// The files of `cancel/` (SPEC §3, §8): who owns a request, and
/// whether the job it names still waits in `incoming/`.
enum CancelFile {
    struct Owner {
        /// The file's owner.
        let uid: UInt32?
        /// Only a regular file is a valid request (not a symlink, FIFO, directory…).
        let isRegularFile: Bool
    }

    /// The owner of `cancel/NAME`, without following a link; nil when it is gone.
    static func owner(directory: String, name: String) -> Owner? {
        var info = stat()
        guard lstat(directory + "/" + name, &info) == 0 else { return nil }
        return Owner(uid: info.st_uid, isRegularFile: (info.st_mode & S_IFMT) == S_IFREG)
    }

    /// True when `incoming/ID.json` exists: the job is not claimed yet.
    static func jobWaiting(incoming: String, id: String) -> Bool {
        var info = stat()
        return lstat(incoming + "/" + id + ".json", &info) == 0
    }
}
