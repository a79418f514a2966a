import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// The spool's use of the one OS layer: the same calls, with a failure
/// thrown as a ``SpoolError`` that names the call and its object.
extension SystemCall {
    /// Runs `body` through ``SystemCall/call(_:)``; a failure throws.
    /// - Parameters:
    ///   - what: the call and its object, for the error line (`"openat active/x"`).
    ///   - code: what the caller was doing, for ``SpoolError/code``.
    @discardableResult
    static func sys<R: FixedWidthInteger>(_ what: @autoclosure () -> String, code: SpoolError.Code = .io,
                                          _ body: () -> R) throws(SpoolError) -> R {
        switch call(body) {
        case .success(let result): return result
        case .failure(let errno): throw SpoolError(code, what(), errno: errno.rawValue)
        }
    }

    /// `fstat` on a descriptor; a failure throws.
    static func fstat(_ fd: Int32, _ what: @autoclosure () -> String) throws(SpoolError) -> stat {
        switch fstat(fd) {
        case .success(let st): return st
        case .failure(let errno): throw SpoolError(.io, "fstat \(what())", errno: errno.rawValue)
        }
    }

    /// Writes all of `bytes` to `fd`; a failure throws.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ what: @autoclosure () -> String) throws(SpoolError) {
        if let errno = writeAll(fd, bytes) { throw SpoolError(.io, "write \(what())", errno: errno.rawValue) }
    }
}
