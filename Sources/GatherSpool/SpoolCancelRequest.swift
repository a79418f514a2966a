import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

extension SpoolDirectory {
    /// Removes `cancel/NAME` once handled (SPEC §8): a file, or whatever a user
    /// dropped instead (a directory full of links), without following a link.
    public func removeCancelRequest(_ name: [UInt8]) throws(SpoolError) {
        try Self.removeTree(fd(.cancel), name, depth: 0)
    }
}
