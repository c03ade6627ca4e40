#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value that one thread at a time may read or change: the lock every layer above uses.
///
/// Why not the standard library's `Synchronization.Mutex`: on Linux it is a bare futex, and
/// ThreadSanitizer cannot see a futex, so every access made under it is reported as a race
/// (the sanitizer run in docs/RELIABILITY.md found 27 such reports and no real one). A
/// `pthread_mutex_t` is intercepted by the sanitizer, so a report under `Locked` is a real race.
/// Uncontended, both cost one atomic exchange.
///
/// Contract: `withLock` runs `body` with the lock held and releases it when `body` returns or
/// throws. It is not reentrant: calling `withLock` on the same value from inside `body` deadlocks
/// (the same rule as `Mutex`). Like `Mutex`, a `Locked` is `Sendable` whatever it holds: the lock
/// is what makes sharing the value safe.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ initialValue: sending Value) {
        value = initialValue
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        // A default mutex: no recursion, no error checking — the cheapest kind.
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` on the value with the lock held; what it returns or throws passes through.
    public func withLock<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
