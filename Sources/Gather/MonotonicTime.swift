#if canImport(Glibc)
import Glibc
#endif

/// The monotonic clock of ``ContinuousClock`` (on Linux `CLOCK_BOOTTIME`,
/// which keeps counting through a suspend) as whole nanoseconds.
///
/// Every attempt reads the clock when it begins and when it ends. Read as
/// `ContinuousClock.now`, each reading became an `Instant` (a 128-bit count of
/// attoseconds, built with 128-bit multiplications), and each duration went
/// back to nanoseconds through 128-bit divisions; an `Int64` of nanoseconds
/// needs neither and keeps a group's messages small. Such readings cover 292
/// years before they overflow.
@usableFromInline
enum MonotonicTime {
    /// Nanoseconds since an arbitrary start (the boot on Linux).
    @inlinable
    static func now() -> Int64 {
        #if os(Linux)
        var time = timespec()
        clock_gettime(CLOCK_BOOTTIME, &time)
        return Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
        #else
        let (seconds, attoseconds) = reference.duration(to: .now).components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
        #endif
    }

    #if !os(Linux)
    @usableFromInline
    static let reference = ContinuousClock.now
    #endif
}
