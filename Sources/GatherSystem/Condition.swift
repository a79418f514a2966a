#if canImport(Glibc)
import Glibc
#endif

/// A mutex with a condition variable (`pthread_mutex_t`, `pthread_cond_t` on
/// `CLOCK_MONOTONIC`), for a thread that sleeps until a queue has work: the
/// journal writer's. It replaces Foundation's `NSCondition`, so the daemon
/// links no Foundation (and none of its ICU data).
///
/// The caller pairs ``lock()`` with ``unlock()`` and waits only while holding it.
public final class Condition: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    /// Waits for a signal (the lock is released meanwhile and held again after).
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits for a signal until `deadline` (``EventWait/monotonicNanoseconds()``).
    /// - Returns: false when the deadline passed.
    public func wait(untilMonotonic deadline: UInt64) -> Bool {
        var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        return pthread_cond_timedwait(condition, mutex, &time) != ETIMEDOUT
    }

    public func signal() { pthread_cond_signal(condition) }
    public func broadcast() { pthread_cond_broadcast(condition) }
}
