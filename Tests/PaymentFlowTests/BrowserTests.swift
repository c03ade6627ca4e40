import Foundation
import NetLabTestSupport
import Testing

@testable import PaymentFlow

extension SeparateProcesses {
/// The pages in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`,
/// driven by Selenium from PyPI; .ci/run installs all three) against `netlab serve all`. The
/// browser trusts the services' certificate by its key alone (the SPKI hash), so TLS stays
/// verified. `scripts/screenshots.sh` runs the same flows to refresh docs/images/.
@Suite("Browser: the shop, Snap, the card script and the bank's pages in Chromium", .timeLimit(.minutes(5)))
struct BrowserTests {
    @Test("a cart paid by QRIS; Snap popup card payment with 3-D Secure; snap.embed; a page reloaded while waiting; the popup closed; a declined card; the card script on a Core API page; full-page Snap with a VA paid at the ATM page and back to the finish URL; QRIS paid in the e-wallet page; the instructor's class view")
    func flows() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-browser-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let base = try SeparateProcessTests.freePortBase()
        let served = try await ServiceProcess.start(["serve", "all", "--port-base", String(base), "--state", state], ready: "state ")
        defer { served.kill(SIGKILL) }
        func url(_ name: String) throws -> String {
            let line = served.output.split(separator: "\n").first { $0.hasPrefix("\(name) https://") }
            return String(try #require(line?.split(separator: " ").dropFirst().first, "netlab serve all names \(name):\n\(served.output)"))
        }
        #expect(served.output.hasPrefix("shop https://"), "the shop's address comes first:\n\(served.output)")
        let (spkiStatus, spki) = try await TestProcess.run([
            "sh", "-c", "openssl x509 -pubkey -noout -in \"$1\" | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64", "spki",
            state + "/ca/services.pem",
        ])
        #expect(spkiStatus == 0, "\(spki)")
        // A merchant whose id is HTML: the instructor's class view must show it as text.
        let hostile = "<b>G-HOSTILE</b>"
        let (added, addOutput) = try await TestProcess.run([try TestProcess.netlabBinary(), "gateway", "merchant", "add", hostile, "--state", state])
        #expect(added == 0, "\(addOutput)")
        let instructorKey = try String(contentsOfFile: state + "/instructor.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop/browser_check.py").path
        let (status, output) = try await TestProcess.run(["python3", script], environment: [
            "SHOP_URL": try url("merchant"), "GATEWAY_URL": try url("gateway"), "BANK_URL": try url("bank"),
            "SERVER_KEY": PaymentSystemOptions.defaultServerKey, "SPKI": spki.trimmingCharacters(in: .whitespacesAndNewlines),
            "INSTRUCTOR_KEY": instructorKey, "HOSTILE_MERCHANT": hostile,
            "REQUESTS_CA_BUNDLE": state + "/ca/ca.pem", "NO_PROXY": "127.0.0.1,localhost",
        ])
        #expect(status == 0, "the browser flows failed (are chromium, chromium-driver and selenium installed? .ci/run installs them):\n\(output)")
        #expect(output.contains("\n0 failed"), "\(output)")
        // Every flow ran (a flow that breaks off is a failed check, not a silent stop).
        let flows = output.split(separator: "\n").first { $0.hasPrefix("flows: ") }.map(String.init) ?? ""
        let counts = flows.dropFirst(7).split(separator: " ").compactMap { Int($0) }
        #expect(counts.count == 2 && counts[0] == counts[1] && counts[0] >= 9, "\(flows)\n\(output)")
    }
}
}  // extension SeparateProcesses
