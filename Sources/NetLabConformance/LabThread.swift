import Foundation

/// A value computed on a thread of its own: for a lab's blocking socket calls that must run side
/// by side with others (a blocking call holds its thread until it returns).
///
///     let worker = LabThread { () throws -> Int in
///         try slowBlockingWork()     // runs at once, on a new thread
///     }
///     otherWorkMeanwhile()
///     let answer = try worker.value()  // waits for it, then returns its result or throws its error
///
public final class LabThread<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    /// Written once by the thread before `done` is signalled, read only after waiting on it.
    private var result: Result<T, any Error>?

    public init(_ body: @escaping @Sendable () throws -> T) {
        Thread { [self] in
            result = Result { try body() }
            done.signal()
        }.start()
    }

    /// Waits for the closure to end; its result, or the error it threw.
    public func value() throws -> T {
        done.wait()
        done.signal()  // a second call returns at once
        return try result!.get()
    }
}
