import Foundation
import Testing

@testable import PaymentFlow

/// Midtrans' official Python SDK (`midtransclient`, installed by .ci/run) against the gateway,
/// over HTTPS with certificate verification on (the lab CA via REQUESTS_CA_BUNDLE).
@Suite("Midtrans Python SDK against the gateway", .timeLimit(.minutes(3)))
struct MidtransSDKTests {
    @Test("charge (card, VA, gopay, qris), status, expire, approve/deny, cancel, refund, Snap, and the SDK's errors")
    func sdkChecklist() async throws {
        let system = try await EndToEndTests.start()
        defer { try? FileManager.default.removeItem(atPath: system.options.stateDirectory) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop/midtrans_sdk_check.py").path
        let (status, output) = try await Self.run(
            ["python3", script],
            environment: [
                "GATEWAY_URL": system.urls[.gateway]!, "SERVER_KEY": system.options.serverKey, "CLIENT_KEY": system.options.clientKey,
                "REQUESTS_CA_BUNDLE": system.caCertificatePath!, "NO_PROXY": "127.0.0.1,localhost",
            ])
        #expect(status == 0, "the SDK checklist failed (is midtransclient installed? .ci/run installs it):\n\(output)")
        #expect(output.contains("0 failed"), "\(output)")
        await system.shutdown()
    }

    /// Runs a program on its own thread (never blocking the test's cooperative pool) and
    /// returns its exit status and combined output.
    static func run(_ arguments: [String], environment: [String: String]) async throws -> (Int32, String) {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = arguments
                process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = pipe
                do {
                    try process.run()
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }
}
