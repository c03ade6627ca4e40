import Foundation
import TCPSocket

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a check is trying at this moment — "vector `chunked: size in hex`, fed one byte at a
/// time" — kept where the lab runner can read it after the step's process has died.
///
/// A crash in a student's code ends the process before any message can be written, and a hang
/// never returns to write one; so the checks say what they are about to do *before* each attempt,
/// and the runner, finding the process crashed or stopped, reports the last thing said. Each
/// record overwrites the last (one `pwrite` to an open file: cheap enough for every feeding of
/// every vector). Outside the runner (the kit's own tests) `$NETLAB_LAB_ATTEMPT` is unset and
/// recording does nothing.
public enum LabAttempt {
    /// The environment variable naming the file; the runner sets it for each step's process.
    public static let environmentVariable = "NETLAB_LAB_ATTEMPT"

    private static let file = Locked<Int32?>(ProcessInfo.processInfo.environment[environmentVariable].flatMap { path in
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        return descriptor >= 0 ? descriptor : nil
    })

    /// Says what the check is about to try (in both languages: the runner picks one).
    public static func record(_ attempt: LabText) {
        file.withLock { descriptor in
            guard let descriptor else { return }
            let bytes = Array((attempt.en + "\u{1F}" + attempt.id).utf8)
            _ = ftruncate(descriptor, 0)
            _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        }
    }

    /// The last attempt recorded in `path` (by a step's process that has since ended), if any.
    public static func last(in path: String) -> LabText? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty else { return nil }
        let parts = text.split(separator: "\u{1F}", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        return LabText(en: parts[0], id: parts.count > 1 ? parts[1] : parts[0])
    }
}
