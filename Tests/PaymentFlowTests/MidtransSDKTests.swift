import Foundation
import NetLabTestSupport
import Testing

@testable import PaymentFlow

/// Midtrans' official Python SDK (`midtransclient`, installed by .ci/run) against the gateway,
/// over HTTPS with certificate verification on (the lab CA via REQUESTS_CA_BUNDLE).
@Suite("Midtrans Python SDK against the gateway", .timeLimit(.minutes(3)))
struct MidtransSDKTests {
    @Test("every call the SDK offers — Core API charges of every channel, status, actions, capture, cards saved and their points, subscriptions, GoPay tokenization, Snap — and its documented errors")
    func sdkChecklist() async throws {
        let system = try await EndToEndTests.start()
        defer { try? FileManager.default.removeItem(atPath: system.options.stateDirectory) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop/midtrans_sdk_check.py").path
        let (status, output) = try await TestProcess.run(
            ["python3", script],
            environment: [
                "GATEWAY_URL": system.urls[.gateway]!, "SERVER_KEY": system.options.serverKey, "CLIENT_KEY": system.options.clientKey,
                "REQUESTS_CA_BUNDLE": system.caCertificatePath!, "NO_PROXY": "127.0.0.1,localhost",
            ])
        #expect(status == 0, "the SDK checklist failed (is midtransclient installed? .ci/run installs it):\n\(output)")
        #expect(output.contains("\n0 failed") || output.hasPrefix("0 failed"), "\(output)")
        // Every check ran (a script that stopped early prints fewer lines).
        let passed = output.split(separator: "\n").filter { $0.hasPrefix("ok   ") }.count
        #expect(passed >= 53, "only \(passed) checks passed:\n\(output)")
        await system.shutdown()
    }
}
