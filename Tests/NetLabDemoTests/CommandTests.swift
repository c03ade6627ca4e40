import Foundation
import Testing

/// `netlab demo` as a student runs it: the built binary, its flags, and its keys on a terminal.
@Suite("netlab demo command", .timeLimit(.minutes(3)))
struct CommandTests {
    @Test("--list names every scenario; a wrong name is a clear error")
    func list() async throws {
        let (status, output) = try await Self.netlab(["demo", "--list"])
        #expect(status == 0)
        for name in ["card-accept", "card-deny", "fraud-challenge", "va-transfer", "expire", "refund", "merchant-down", "forged-webhook", "mitm", "gateway-restart"] {
            #expect(output.contains(name), "\(name) missing from --list:\n\(output)")
        }
        let (wrong, message) = try await Self.netlab(["demo", "--scenario", "card-acept"])
        #expect(wrong != 0 && message.contains("card-acept"), "\(message)")
    }

    @Test("piped: the whole story, no colour, exit 0; --json is one object per line; --trace writes Mermaid; --keylog is 0600")
    func nonInteractive() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-demo-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let (status, text) = try await Self.netlab(["demo"])
        #expect(status == 0, "\(text)")
        #expect(text.contains("· TLS · customer → gateway") && text.contains("✔ card-accept"), "\(text.suffix(2000))")
        #expect(!text.contains("\u{1B}["), "no colour codes when piped")
        #expect(!text.contains("[Enter] next"), "no prompts when piped")

        let trace = directory + "/trace.md", keylog = directory + "/keys.log"
        let (jsonStatus, json) = try await Self.netlab(["demo", "--json", "--scenario", "va-transfer", "--trace", trace, "--keylog", keylog])
        #expect(jsonStatus == 0)
        let lines = json.split(separator: "\n")
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not a JSON object: \(line.prefix(200))")
        }
        #expect(lines.last?.contains(#""succeeded":true"#) == true, "\(lines.last ?? "")")
        #expect(try String(contentsOfFile: trace, encoding: .utf8).contains("sequenceDiagram"))
        let mode = try FileManager.default.attributesOfItem(atPath: keylog)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try String(contentsOfFile: keylog, encoding: .utf8).contains("CLIENT_TRAFFIC_SECRET_0"))
    }

    @Test("on a terminal: Enter steps, w shows the wiretap below and above TLS, q quits (driven through a pseudo-terminal)")
    func interactive() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop/drive_demo_tty.py").path
        let (status, output) = try await Self.run(["python3", script, try Self.netlabBinary()])
        #expect(status == 0 && output.contains("PTY OK"), "\(output)")
    }

    static func netlab(_ arguments: [String]) async throws -> (Int32, String) {
        try await run([try netlabBinary()] + arguments)
    }

    /// `netlab`, built next to this test bundle by `swift build` / `swift test` (or `$NETLAB_BINARY`).
    static func netlabBinary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["NETLAB_BINARY"] { return path }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("netlab").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: bundle.appendingPathComponent("netlab").path])
    }

    /// Runs a program on a thread of its own (never blocking the test's cooperative pool);
    /// returns its exit status and its output (stdout and stderr together).
    static func run(_ arguments: [String]) async throws -> (Int32, String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = arguments
                var environment = ProcessInfo.processInfo.environment
                environment.removeValue(forKey: "NO_COLOR")
                process.environment = environment
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
}
