import Foundation

/// Running real programs from tests: peers (Python, curl) and the `netlab` binary itself.
public enum TestProcess {
    /// Runs a program (looked up on PATH through /usr/bin/env) on a thread of its own — never
    /// blocking the test's cooperative pool — with stdin empty; returns its exit status and its
    /// output (stdout and stderr together). `NO_COLOR` is removed from the environment so the
    /// program decides colour by itself (on a pipe: none).
    public static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = arguments
                var merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
                merged.removeValue(forKey: "NO_COLOR")
                process.environment = merged
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = pipe
                process.standardInput = FileHandle.nullDevice
                do {
                    try process.run()
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    }

    /// `netlab`, built by `swift build` / `swift test` next to the test bundle (or `$NETLAB_BINARY`).
    public static func netlabBinary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["NETLAB_BINARY"] { return path }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("netlab").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [
            NSFilePathErrorKey: bundle.appendingPathComponent("netlab").path,
            NSLocalizedDescriptionKey: "the netlab binary is not beside \(bundle.path); run `swift build` first or set NETLAB_BINARY",
        ])
    }
}
