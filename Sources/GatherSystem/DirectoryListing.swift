#if canImport(Glibc)
import Glibc
#endif

/// The one directory lister: the names of a directory given by descriptor,
/// as the raw bytes the kernel gave (a name need not be UTF-8), without `.`
/// and `..`, in no particular order.
public enum DirectoryListing {
    /// Lists the directory open as `fd`. `fd` stays the caller's: the listing
    /// reads its own descriptor of the same directory from the start, so the
    /// same `fd` can be listed again later.
    /// - Parameter body: called with each name, and the listing's descriptor
    ///   for an `fstatat` of the entry while it is listed.
    /// - Returns: the errno if the directory could not be read, else `nil`.
    @discardableResult
    public static func forEachName(in fd: Int32, _ body: (_ directory: Int32, _ name: [UInt8]) -> Void) -> Errno? {
        let copy: Int32
        switch SystemCall.call({ openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }) {
        case .success(let value): copy = value
        case .failure(let errno): return errno
        }
        // fdopendir takes the descriptor over; closedir closes it.
        guard let stream = fdopendir(copy) else {
            let errno = Errno.current
            SystemCall.close(copy)
            return errno
        }
        defer { closedir(stream) }
        let streamFD = dirfd(stream)
        while true {
            Glibc.errno = 0
            guard let entry = readdir(stream) else {
                // readdir is never interrupted (getdents is not a slow call).
                return Glibc.errno != 0 ? Errno.current : nil
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            body(streamFD, name)
        }
    }

    /// The names of the directory open as `fd`.
    public static func names(in fd: Int32) -> Result<[[UInt8]], Errno> {
        var names: [[UInt8]] = []
        if let errno = forEachName(in: fd, { _, name in names.append(name) }) { return .failure(errno) }
        return .success(names)
    }
}
