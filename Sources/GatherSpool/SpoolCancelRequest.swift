import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// Who dropped a request in `cancel/`, and what it is (SPEC §8).
public struct CancelRequestOwner: Sendable, Equatable {
    /// The entry's owner.
    public let uid: UInt32
    /// Only a regular file is a valid request (not a symlink, FIFO, directory…).
    public let isRegularFile: Bool
}

extension SpoolDirectory {
    /// The owner of `cancel/NAME`, without following a link; `nil` when it is gone
    /// (handled already).
    public func cancelRequestOwner(_ name: [UInt8]) -> CancelRequestOwner? {
        guard case .success(let st) = SystemCall.lstat(name, in: fd(.cancel)) else { return nil }
        return CancelRequestOwner(uid: st.st_uid, isRegularFile: st.st_mode & S_IFMT == S_IFREG)
    }

    /// Whether `incoming/ID.json` exists: the job is not claimed yet, and a
    /// cancel request for it is kept until it is (SPEC §3).
    public func isWaitingInIncoming(_ id: String) -> Bool {
        if case .success = SystemCall.lstat(Array("\(id).json".utf8), in: fd(.incoming)) { return true }
        return false
    }

    /// Removes `cancel/NAME` once handled (SPEC §8): a file, or whatever a user
    /// dropped instead (a directory full of links), without following a link.
    public func removeCancelRequest(_ name: [UInt8]) throws(SpoolError) {
        try Self.removeTree(fd(.cancel), name, depth: 0)
    }

    /// Calls `body` with the descriptor of `area`, for a listing (``DirectoryListing``)
    /// that must not resolve the spool's path again. The descriptor stays the spool's.
    public func withDescriptor<R, E: Error>(of area: Area, _ body: (Int32) throws(E) -> R) throws(E) -> R {
        try body(fd(area))
    }
}
