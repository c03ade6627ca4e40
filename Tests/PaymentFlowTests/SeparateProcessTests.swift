import Foundation
import HTTPParser
import NetLab
import NetLabTestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TCPSocket
import TLSWrapper
import Testing

@testable import PaymentFlow

/// The suites that run the services as `netlab serve` processes, one at a time: each starts four
/// processes and their TLS handshakes, which a two-core machine cannot do twice at once within
/// the servers' deadlines while the rest of the tests run.
@Suite("Services as separate processes", .serialized)
enum SeparateProcesses {}

extension SeparateProcesses {
/// `netlab serve ACTOR` as separate processes sharing one `--state` and `--port-base` — the way a
/// class runs the system — and the gateway killed with SIGKILL in the middle of a charge.
@Suite("netlab serve: one process per service, and a gateway killed mid-charge", .timeLimit(.minutes(3)))
struct SeparateProcessTests {
    @Test("bank, fraud, notification and gateway in four processes; SIGKILL mid-charge, restart: answered charges and due webhooks intact, the in-doubt charge reversed at the bank")
    func gatewayKilledMidCharge() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-procs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let base = try Self.freePortBase()
        func serve(_ actor: String) async throws -> ServiceProcess {
            try await ServiceProcess.start(["serve", actor, "--port-base", String(base), "--state", state], ready: "\(actor) https://127.0.0.1:")
        }
        // One at a time: the first creates the lab CA in the shared state folder.
        let bank = try await serve("bank"), fraud = try await serve("fraud"), notification = try await serve("notification")
        var gateway = try await serve("gateway")
        defer { for process in [bank, fraud, notification, gateway] { process.kill(SIGKILL) } }

        var configuration = HTTPClientConfiguration()
        configuration.tls = try TLSContext(.client(trustRootsFile: state + "/ca/ca.pem"))
        configuration.requestTimeout = .seconds(20)
        let client = HTTPClient(configuration: configuration)
        let gatewayURL = "https://127.0.0.1:\(base)", bankURL = "https://127.0.0.1:\(base + 1)"
        let lab = Customer(shopURL: "", gatewayURL: gatewayURL, bankURL: bankURL, clientKey: PaymentSystemOptions.defaultClientKey, client: client)
        let auth = HTTPFields(["Authorization": "Basic " + Data((PaymentSystemOptions.defaultServerKey + ":").utf8).base64EncodedString(),
                               "Content-Type": "application/json"])
        func call(_ method: HTTPMethod, _ url: String, _ json: [String: Any]? = nil) async throws -> (Int, [String: Any]) {
            var request = HTTPClientRequest(method: method, url: try HTTPURL(url))
            request.fields = auth
            if let json { request.body = Array(try JSONSerialization.data(withJSONObject: json)) }
            let response = try await client.execute(request)
            return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:])
        }
        func cardCharge(_ orderID: String) async throws -> (Int, [String: Any]) {
            let token = try await lab.tokenize(.init(number: "4411111111111118"))
            return try await call(.post, gatewayURL + "/v2/charge", [
                "payment_type": "credit_card", "transaction_details": ["order_id": orderID, "gross_amount": 50000],
                "credit_card": ["token_id": token],
            ])
        }
        // Failure drills are the operator's: the bank wants the key the gateway and it share.
        func drill(_ json: [String: Any]) async throws {
            var request = HTTPClientRequest(method: .post, url: try HTTPURL(bankURL + "/faults"))
            let key = try String(contentsOfFile: state + "/bank-notice.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            try request.fields.append(name: "Authorization", value: "Bearer \(key)")
            request.body = Array(try JSONSerialization.data(withJSONObject: json))
            #expect(try await client.execute(request).status == 200, "the bank takes the drill")
        }
        func status(_ id: String) async throws -> String? { try await call(.get, gatewayURL + "/v2/\(id)/status").1["transaction_status"] as? String }
        func bankBalance() async throws -> Int64 { (try await call(.get, bankURL + "/balance").1["received"] as? NSNumber)?.int64Value ?? -1 }

        // Answered before the crash: a captured card payment and a waiting VA (merchant offline:
        // both webhooks wait in the outbox).
        let (cardStatus, card) = try await cardCharge("proc-card-1")
        let cardOutcome = card["transaction_status"] as? String
        #expect(cardStatus == 200 && cardOutcome == "capture")
        let (vaStatus, va) = try await call(.post, gatewayURL + "/v2/charge", [
            "payment_type": "bank_transfer", "transaction_details": ["order_id": "proc-va-1", "gross_amount": 20000], "bank_transfer": ["bank": "bni"],
        ])
        let vaOutcome = va["transaction_status"] as? String
        #expect(vaStatus == 200 && vaOutcome == "pending")

        // In doubt: the bank approves, then holds its answer; the gateway dies waiting for it.
        let before = try await bankBalance()
        try await drill(["latency_ms": 0, "answer_latency_ms": 60_000])
        let doomed = Task { try await cardCharge("proc-card-2").0 }
        try await EndToEndTests.eventually("the bank approves the charge in flight") { try await bankBalance() == before + 50000 }
        gateway.kill(SIGKILL)
        #expect(await gateway.waitForExit() == SIGKILL, "the gateway died by SIGKILL")
        await #expect(throws: (any Error).self, "the merchant never gets an answer for the killed charge") { try await doomed.value }
        try await drill(["latency_ms": 0])

        gateway = try await serve("gateway")
        // Recovery: the in-doubt charge is reversed at the bank and recorded as failure.
        try await EndToEndTests.eventually("the bank reverses the in-doubt approval") { try await bankBalance() == before }
        try await EndToEndTests.eventually("the gateway records it as failure") {
            try await status("proc-card-2") == "failure"
        }
        let card1 = try await status("proc-card-1"), va1 = try await status("proc-va-1")
        #expect(card1 == "capture" && va1 == "pending")
        // The order id is free again: the merchant's retry goes through.
        let (retryStatus, retry) = try await cardCharge("proc-card-2")
        let retryOutcome = retry["transaction_status"] as? String
        #expect(retryStatus == 200 && retryOutcome == "capture")
        let after = try await bankBalance()
        #expect(after == before + 50000)

        // The merchant comes online: every answered change arrives, signed; nothing for the failure.
        let merchant = try await WebhookReceiver.start(port: base + 2, state: state)
        let (resent, _) = try await call(.post, "https://127.0.0.1:\(base + 4)/v1/notifications/resend")
        #expect(resent == 200)
        try await EndToEndTests.eventually("the three webhooks arrive") { merchant.received.count >= 3 }
        let received = merchant.received
        #expect(Set(received.map { "\($0.order) \($0.status)" }) == ["proc-card-1 capture", "proc-va-1 pending", "proc-card-2 capture"],
                "\(received)")
        #expect(received.count == 3 && received.allSatisfy { $0.signatureValid }, "each once, each signed: \(received)")
        let (_, history) = try await call(.get, "https://127.0.0.1:\(base + 4)/v1/notifications?order_id=proc-card-1")
        let historyText = "\(history)"
        #expect(historyText.contains("delivered"), "\(historyText)")

        // SIGTERM: each service shuts down gracefully and exits 0.
        for process in [bank, fraud, notification, gateway] {
            process.kill(SIGTERM)
            let status = await process.waitForExit()
            #expect(status == 0, "\(process.arguments) exits 0 after SIGTERM, not \(process.exitDescription):\n\(process.output)")
        }
        await merchant.stop()
        await client.shutdown()
    }

    /// A base port with the next five free on 127.0.0.1 (the services need fixed, known ports to
    /// find each other; the test picks a random free block rather than a fixed one).
    static func freePortBase() throws -> UInt16 { try TestPorts.freeBase(count: 5) }
}

}  // extension SeparateProcesses

/// The merchant's webhook endpoint, played by the test: records what arrives and checks the signature.
final class WebhookReceiver: Sendable {
    struct Note: Sendable { var order: String; var status: String; var signatureValid: Bool }
    private let log = Locked<[Note]>([])
    private let running = Locked<HTTPServer?>(nil)
    var received: [Note] { log.withLock { $0 } }

    private let address = Locked<(port: UInt16, state: String)?>(nil)

    static func start(port: UInt16, state: String) async throws -> WebhookReceiver {
        let receiver = WebhookReceiver()
        try await receiver.listen(port: port, state: state)
        return receiver
    }

    private func listen(port: UInt16, state: String) async throws {
        var router = Router()
        router.post("/notifications") { [log] request in
            let note = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
            let order = note["order_id"] as? String ?? "", status = note["transaction_status"] as? String ?? ""
            let valid = NotificationSignature.isValid(
                note["signature_key"] as? String ?? "", orderID: order, statusCode: note["status_code"] as? String ?? "",
                grossAmount: note["gross_amount"] as? String ?? "", serverKey: PaymentSystemOptions.defaultServerKey)
            log.withLock { $0.append(Note(order: order, status: status, signatureValid: valid)) }
            return .text("OK")
        }
        let leaf = try LabCertificateAuthority(directory: state + "/ca").issue(name: "test-merchant")
        let tls = try TLSContext(.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath))
        let server = HTTPServer(router: router)
        _ = try await server.start(host: "127.0.0.1", port: port, tls: tls)
        running.withLock { $0 = server }
        address.withLock { $0 = (port, state) }
    }

    /// The merchant dies and comes back: every connection cut and the port refusing at once
    /// (no grace), then listening again on the same port with what it had received — what a
    /// killed merchant process looks like from the gateway's side.
    func restart() async throws {
        await stop()
        let (port, state) = address.withLock { $0 }!
        try await listen(port: port, state: state)
    }

    func stop() async { await running.withLock { $0 }?.shutdown(gracePeriod: .zero) }
}

/// A `netlab` subcommand in its own process (the binary built beside this test bundle),
/// started and waited for until it prints its `ready` line.
final class ServiceProcess: Sendable {
    let arguments: [String]
    private let child: ChildProcess
    var output: String { child.output }

    /// Starts `netlab arguments…` and returns once it prints a line containing `ready`; throws
    /// with the output if it exits first or stays silent for 60 s. (The wait runs on a thread of
    /// its own, never on the test's cooperative pool.)
    /// With `openFileLimit`, the process runs under `ulimit -n` of that many descriptors (soft
    /// and hard: it cannot raise them).
    static func start(_ arguments: [String], ready: String, openFileLimit: Int? = nil) async throws -> ServiceProcess {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                do { continuation.resume(returning: try ServiceProcess(arguments, ready: ready, openFileLimit: openFileLimit)) } catch { continuation.resume(throwing: error) }
            }.start()
        }
    }

    /// The process id (`exec` keeps the shell's when a limit is set).
    var pid: pid_t { child.pid }
    /// Whether it has not exited yet.
    var isRunning: Bool { child.exited == nil }

    private init(_ arguments: [String], ready: String, openFileLimit: Int?) throws {
        self.arguments = arguments
        let seen = DispatchSemaphore(value: 0)
        let signalled = Locked(false)
        let netlab = try TestProcess.netlabBinary()
        let (executable, argv) = openFileLimit.map { limit in
            ("/bin/sh", ["-c", "ulimit -n \(limit) && exec \"$0\" \"$@\"", netlab] + arguments)
        } ?? (netlab, arguments)
        child = try ChildProcess(executable: executable, arguments: argv) { text in
            if text.contains(ready), !signalled.withLock({ let was = $0; $0 = true; return was }) { seen.signal() }
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while seen.wait(timeout: .now() + .milliseconds(50)) == .timedOut {
            guard child.exited == nil, ContinuousClock.now < deadline else {
                child.send(SIGKILL)
                _ = child.waitBlocking(timeout: .seconds(2))  // its last words, in full
                throw HTTPError(status: 500, message: "netlab \(arguments.joined(separator: " ")) did not print \"\(ready)\" (\(child.exited.map(String.init(describing:)) ?? "silent for 60 s")):\n\(output)")
            }
        }
    }

    func kill(_ signal: Int32) { child.send(signal) }

    /// Waits (up to 30 s: a guard against hangs) for the exit and the last of its output; the
    /// exit status, or the signal number if a signal ended it; -1 if it is still running.
    func waitForExit() async -> Int32 {
        await child.wait(timeout: .seconds(30))?.code ?? -1
    }

    /// How the process ended, in words ("status N", "signal N"), or that it still runs.
    var exitDescription: String { child.exited.map(String.init(describing:)) ?? "still running after 30 s" }
}
