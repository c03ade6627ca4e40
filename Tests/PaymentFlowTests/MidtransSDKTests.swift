import Foundation
import NetLabTestSupport
import Testing

@testable import PaymentFlow

extension SeparateProcesses {
/// Midtrans' official Python SDK (`midtransclient`, installed by .ci/run) against `netlab serve
/// all` — the command a student runs — over HTTPS with certificate verification on (the lab
/// CA via REQUESTS_CA_BUNDLE).
@Suite("Midtrans Python SDK against netlab serve all", .timeLimit(.minutes(3)))
struct MidtransSDKTests {
    @Test("every call the SDK offers — Core API charges of every channel, status, actions, capture, cards saved and their points, subscriptions, GoPay tokenization, Snap — and its documented errors")
    func sdkChecklist() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-sdk-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let base = try SeparateProcessTests.freePortBase()
        let served = try await ServiceProcess.start(["serve", "all", "--port-base", String(base), "--state", state], ready: "state ")
        defer { served.kill(SIGKILL) }
        let gateway = try #require(served.output.split(separator: "\n").first { $0.hasPrefix("gateway https://") }?.split(separator: " ").last,
                                   "netlab serve all names the gateway's URL:\n\(served.output)")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop/midtrans_sdk_check.py").path
        let (status, output) = try await TestProcess.run(
            ["python3", script],
            environment: [
                "GATEWAY_URL": String(gateway), "SERVER_KEY": PaymentSystemOptions.defaultServerKey, "CLIENT_KEY": PaymentSystemOptions.defaultClientKey,
                "REQUESTS_CA_BUNDLE": state + "/ca/ca.pem", "NO_PROXY": "127.0.0.1,localhost",
            ])
        #expect(status == 0, "the SDK checklist failed (is midtransclient installed? .ci/run installs it):\n\(output)")
        #expect(output.contains("\n0 failed") || output.hasPrefix("0 failed"), "\(output)")
        // Every check ran (a script that stopped early prints fewer lines).
        let passed = output.split(separator: "\n").filter { $0.hasPrefix("ok   ") }.count
        #expect(passed >= 53, "only \(passed) checks passed:\n\(output)")
    }
}
}  // extension SeparateProcesses
