#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fuzz target's verdict on one input: an invariant that failed is a finding. libFuzzer
/// treats the abort as a crash, saves the input as `crash-…` and prints the message above it.
public enum Oracle {
    /// Stops the run when `condition` is false, naming the invariant and what was seen.
    public static func require(
        _ condition: @autoclosure () -> Bool, _ invariant: @autoclosure () -> String,
        file: StaticString = #fileID, line: UInt = #line
    ) {
        guard !condition() else { return }
        let message = "fuzz invariant broken (\(file):\(line)): \(invariant())\n"
        message.utf8CString.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count - 1) }
        abort()
    }
}

/// The input's bytes as a Swift array (libFuzzer's buffer lives only for the call).
public func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}
