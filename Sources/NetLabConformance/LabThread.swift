import Foundation

/// A value computed on a thread of its own: for a lab's blocking socket calls that must run side
/// by side, such as reading a connection while writing to it (step 1.2 of lab 1).
///
///     let reader = LabThread { () throws -> [UInt8] in
///         var received: [UInt8] = []
///         while case .bytes = try connection.read(into: &received, maxBytes: 65536) {}
///         return received
///     }
///     try connection.write(message)
///     try connection.shutdown(.write)
///     let echoed = try reader.value()
///
/// The closure starts at once; ``value()`` waits for it to end and returns what it returned, or
/// throws what it threw.
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
