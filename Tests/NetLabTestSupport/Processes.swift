import Foundation

/// Running real programs from tests: peers (Python, curl) and the `netlab` binary itself.
public enum TestProcess {
    /// Runs a program (looked up on PATH through /usr/bin/env) on a thread of its own — never
    /// blocking the test's cooperative pool — with stdin empty; returns its exit status and its
    /// output (stdout and stderr together). `NO_COLOR` is removed from the environment so the
    /// program decides colour by itself (on a pipe: none). See ``ChildProcess``.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        try await ChildProcess.run(arguments, environment: environment)
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
