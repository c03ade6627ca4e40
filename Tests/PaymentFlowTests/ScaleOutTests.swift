#if NETLAB_POSTGRES
import Foundation
import HTTPParser
import NetLab
import NetLabTestSupport
import TCPSocket
import TLSWrapper
import Testing

@testable import PaymentFlow

extension SeparateProcesses {
/// The scale-out of docs/SCALING.md, for real: three `netlab` gateway processes on one
/// PostgreSQL database behind nginx (`netlab serve gateway --instances 3`), the bank, fraud and
/// notification services as processes of their own, the merchant's endpoint played by the test
/// — and the instance holding the timers' turn killed with SIGKILL while charges run.
@Suite("Scale-out: three gateway instances behind nginx, one killed", .timeLimit(.minutes(4)),
       .enabled(if: TestPostgres.serverURL != nil && NginxConfiguration.executable() != nil))
struct ScaleOutTests {
    @Test("SIGKILL one of three instances mid-run: no answered charge lost, no money doubled, every webhook delivered once, every timer fired once")
    func instanceKilledMidRun() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-scale-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let url = try await BlockingWork.run { try TestPostgres.freshDatabase() }
        let base = try TestPorts.freeBase(count: 13)
        let common = ["--port-base", String(base), "--state", state, "--store", url]
        let bank = try await ServiceProcess.start(["serve", "bank", "--port-base", String(base), "--state", state], ready: "bank https://")
        let fraud = try await ServiceProcess.start(["serve", "fraud", "--port-base", String(base), "--state", state], ready: "fraud https://")
        let notification = try await ServiceProcess.start(["serve", "notification"] + common, ready: "notification https://")
        let merchant = try await WebhookReceiver.start(port: base + 2, state: state)
        // VAs expire after 4 s and captures settle after 3 s: the timers fire while the test runs.
        let cluster = try await ServiceProcess.start(
            ["serve", "gateway", "--instances", "3", "--payment-expiry", "4", "--settlement-delay", "3"] + common, ready: "store postgres://")
        defer { for process in [bank, fraud, notification, cluster] { process.kill(SIGKILL) } }
        // "instances 1: port P, process N; 2: …"
        let pids = Self.instancePIDs(cluster.output)
        #expect(pids.count == 3, "\(cluster.output)")

        var configuration = HTTPClientConfiguration()
        configuration.tls = try TLSContext(.client(trustRootsFile: state + "/ca/ca.pem"))
        configuration.requestTimeout = .seconds(20)
        let client = HTTPClient(configuration: configuration)
        let gatewayURL = "https://127.0.0.1:\(base)", bankURL = "https://127.0.0.1:\(base + 1)"
        let lab = Customer(shopURL: "", gatewayURL: gatewayURL, bankURL: bankURL, clientKey: PaymentSystemOptions.defaultClientKey, client: client)
        let auth = "Basic " + Data((PaymentSystemOptions.defaultServerKey + ":").utf8).base64EncodedString()
        @Sendable func call(_ method: HTTPMethod, _ target: String, _ json: [String: Any]? = nil, key: String? = nil) async throws -> (Int, [String: Any]) {
            var request = HTTPClientRequest(method: method, url: try HTTPURL(gatewayURL + target))
            try request.fields.append(name: "Authorization", value: auth)
            try request.fields.append(name: "Content-Type", value: "application/json")
            if let key { try request.fields.append(name: "Idempotency-Key", value: key) }
            if let json { request.body = Array(try JSONSerialization.data(withJSONObject: json)) }
            let response = try await client.execute(request)
            return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:])
        }

        // Twelve VAs: each will expire once, whichever instance has the timers then.
        for n in 1...12 {
            let (status, va) = try await call(.post, "/v2/charge", [
                "payment_type": "bank_transfer", "transaction_details": ["order_id": "va-\(n)", "gross_amount": 20000], "bank_transfer": ["bank": "bni"],
            ])
            #expect(status == 200 && va["transaction_status"] as? String == "pending", "\(va)")
        }

        // Card charges, four at a time, each tokenised and charged through nginx (the token is made
        // on one instance and spent on whichever the charge reaches). A charge without an answer
        // (its instance died) is tried again, as a merchant would: a new token and key, the same order id.
        let answered = Locked<[String: String]>([:])  // order id → transaction id of a 200 capture
        let retries = Locked(0)
        @Sendable func charge(_ order: String, via target: String = "") async throws {
            for attempt in 1...80 {
                if let token = try? await lab.tokenize(.init(number: "4811111111111114")),
                    let (status, body) = try? await call(.post, "/v2/charge", [
                        "payment_type": "credit_card", "transaction_details": ["order_id": order, "gross_amount": 10000],
                        "credit_card": ["token_id": token],
                    ], key: "\(order)-\(attempt)"),
                    status == 200, body["transaction_status"] as? String == "capture", let id = body["transaction_id"] as? String
                {
                    answered.withLock { $0[order] = id }
                    return
                }
                retries.withLock { $0 += 1 }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
        func charges(_ orders: [String]) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<4 {
                    let mine = orders.enumerated().filter { $0.offset % 4 == lane }.map(\.element)
                    group.addTask { for order in mine { try await charge(order) } }
                }
                try await group.waitForAll()
            }
        }
        try await charges((1...15).map { "card-\($0)" })

        // The forced interleaving: a charge on instance 1 (which took the timers' turn first) is
        // approved by the bank, whose answer is held back — and instance 1 is killed before it
        // hears it. Nobody answered that charge; another instance's recovery must find it (its
        // owner's lock is free), abandon it and have the bank reverse the approval.
        let bankBefore = try await Self.balance(client, bankURL)
        try await Self.drill(client, bankURL, state: state, ["latency_ms": 0, "answer_latency_ms": 60_000])
        let doomed = Task {
            let token = try await lab.tokenize(.init(number: "4811111111111114"))
            var request = HTTPClientRequest(method: .post, url: try HTTPURL("https://127.0.0.1:\(base + 10)/v2/charge"))
            try request.fields.append(name: "Authorization", value: auth)
            try request.fields.append(name: "Content-Type", value: "application/json")
            request.body = Array(try JSONSerialization.data(withJSONObject: [
                "payment_type": "credit_card", "transaction_details": ["order_id": "card-41", "gross_amount": 10000], "credit_card": ["token_id": token],
            ] as [String: Any]))
            return try await client.execute(request).status
        }
        try await EndToEndTests.eventually("the bank approves the charge in flight on instance 1", within: .seconds(20)) {
            try await Self.balance(client, bankURL) == bankBefore + 10000
        }
        kill(pids[0], SIGKILL)
        await #expect(throws: (any Error).self, "the killed instance never answers") { try await doomed.value }
        try await Self.drill(client, bankURL, state: state, ["latency_ms": 0])
        // nginx finds instance 1 gone (connection refused: passed to the next) while charges go on.
        try await charges((16...40).map { "card-\($0)" })
        try await EndToEndTests.eventually("the in-doubt charge is abandoned by a live instance", within: .seconds(20)) {
            try await call(.get, "/v2/card-41/status").1["transaction_status"] as? String == "failure"
        }
        try await charge("card-41")
        print("scale-out: \(retries.withLock { $0 }) charge attempts went unanswered or were refused around the kill, and were tried again")
        let captured = answered.withLock { $0 }
        #expect(captured.count == 41, "every order was charged in the end: \(captured.count)")

        // No answered charge lost: each is found, by the transaction id it was answered with.
        for (order, id) in captured {
            let (_, found) = try await call(.get, "/v2/\(order)/status")
            #expect(found["transaction_id"] as? String == id, "\(order): \(found)")
            #expect(["capture", "settlement"].contains(found["transaction_status"] as? String ?? ""), "\(order): \(found)")
        }
        let database = try PostgresConnection(url: url)
        // Never two live captures for one order; the bank holds exactly the answered charges' money
        // (an approval the killed instance never recorded is reversed by the recovery).
        let doubled = try database.execute(
            "SELECT order_id FROM transactions WHERE status IN ('capture', 'settlement') GROUP BY order_id HAVING COUNT(*) > 1")
        #expect(doubled.isEmpty, "\(doubled)")
        try await EndToEndTests.eventually("the bank holds exactly the captured money", within: .seconds(30)) {
            try await Self.balance(client, bankURL) == Int64(captured.count) * 10000
        }
        // Every timer fired once: each VA expired, each capture settled — one outbox entry each.
        try await EndToEndTests.eventually("every VA expired and every capture settled", within: .seconds(30)) {
            let left = try database.execute(
                "SELECT COUNT(*) FROM transactions WHERE status IN ('pending', 'capture') AND (order_id LIKE 'va-%' OR order_id LIKE 'card-%')")
            return left.first?[0].integer == 0
        }
        let timerEntries = try database.execute(
            "SELECT order_id, transaction_status, COUNT(*) FROM outbox WHERE transaction_status IN ('expire', 'settlement') GROUP BY 1, 2")
        #expect(timerEntries.count == 53, "12 expiries and 41 settlements: \(timerEntries.count)")
        #expect(timerEntries.allSatisfy { $0[2].integer == 1 }, "\(timerEntries.filter { $0[2].integer != 1 })")
        // Every webhook delivered, once: what the merchant received is what the outbox holds.
        try await EndToEndTests.eventually("the outbox is delivered", within: .seconds(30)) {
            try database.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").first?[0].integer == 0
        }
        let outbox = try database.execute("SELECT order_id, transaction_status FROM outbox ORDER BY id").map { "\($0[0].text ?? "") \($0[1].text ?? "")" }
        let received = merchant.received.map { "\($0.order) \($0.status)" }
        #expect(received.sorted() == outbox.sorted(), "each webhook once: \(received.count) received, \(outbox.count) in the outbox")
        #expect(Set(received).count == received.count, "none twice")
        #expect(merchant.received.allSatisfy { $0.signatureValid })

        // The killed instance was started again by the cluster, and everything stops cleanly.
        try await EndToEndTests.eventually("the cluster restarts the killed instance", within: .seconds(20)) {
            cluster.output.contains("gateway instance 1 restarted")
        }
        for process in [cluster, notification, fraud, bank] {
            process.kill(SIGTERM)
            let status = await process.waitForExit()
            #expect(status == 0, "\(process.arguments) exits 0 after SIGTERM, not \(process.exitDescription):\n\(process.output)")
        }
        await merchant.stop()
        await client.shutdown()
    }

    @Test("serve all --instances 2: every service a process, the gateway two instances behind nginx; the shop's order is charged and its webhook delivered through the shared store; SIGTERM stops all of it, nginx too")
    func serveAllScaledOut() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-scale-all-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let url = try await BlockingWork.run { try TestPostgres.freshDatabase() }
        let base = try TestPorts.freeBase(count: 12)
        let served = try await ServiceProcess.start(
            ["serve", "all", "--instances", "2", "--store", url, "--port-base", String(base), "--state", state], ready: "processes ")
        defer { served.kill(SIGKILL) }
        let pids = ServeAllSupervisorTests.processes(served.output)
        #expect(Set(pids.keys) == Set(PaymentActor.allCases.map(\.rawValue)), "\(served.output)")
        #expect(served.output.contains("gateway https://127.0.0.1:\(base) (nginx in front of 2 instances)"), "\(served.output)")
        // The gateway service is the cluster: its two instances and nginx run below it.
        let instances = Self.instancePIDs(served.output)
        let gatewayTree = try ProcessTree.members(#require(pids["gateway"]))
        #expect(instances.count == 2 && instances.allSatisfy(gatewayTree.contains), "\(instances) under \(gatewayTree)")
        let nginxLine = served.output.split(separator: "\n").first { $0.hasPrefix("nginx ") }
        let nginx = nginxLine.flatMap { pid_t($0.split(separator: " ").last?.dropLast() ?? "") }
        #expect(nginx.map(gatewayTree.contains) == true, "nginx runs under the gateway service: \(String(describing: nginxLine))")

        var configuration = HTTPClientConfiguration()
        configuration.tls = try TLSContext(.client(trustRootsFile: state + "/ca/ca.pem"))
        configuration.requestTimeout = .seconds(20)
        let client = HTTPClient(configuration: configuration)
        let customer = Customer(shopURL: "https://127.0.0.1:\(base + 2)", gatewayURL: "https://127.0.0.1:\(base)", bankURL: "https://127.0.0.1:\(base + 1)",
                                clientKey: PaymentSystemOptions.defaultClientKey, client: client)
        let order = try await customer.order("batik", payment: ["type": "bank_transfer", "bank": "permata"])
        #expect(order.transaction_status == "pending" && order.va_number != nil, "\(order)")
        let database = try await BlockingWork.run { try PostgresConnection(url: url) }
        try await EndToEndTests.eventually("the notification service delivers the order's webhook from the shared outbox", within: .seconds(30)) {
            try await BlockingWork.run {
                try database.execute("SELECT COUNT(*) FROM outbox WHERE order_id = $1 AND delivered_at IS NOT NULL", [.text(order.order_id)])
                    .first?[0].integer == 1
            }
        }
        await client.shutdown()

        let everything = ProcessTree.members(served.pid)
        served.kill(SIGTERM)
        #expect(await served.waitForExit() == 0, "\(served.exitDescription):\n\(served.output)")
        try await EndToEndTests.eventually("every process ends with the supervisor, nginx too", within: .seconds(20)) {
            everything.allSatisfy(ProcessTree.hasEnded)
        }
        #expect(everything.allSatisfy(ProcessTree.hasEnded), "still running: \(everything.filter { !ProcessTree.hasEnded($0) })")
        #expect(served.output.components(separatedBy: "shutting down").count == 2, "one shutdown message, the supervisor's:\n\(served.output)")
    }

    /// What the bank has received (approved and not reversed), in rupiah.
    static func balance(_ client: HTTPClient, _ bankURL: String) async throws -> Int64 {
        let response = try await client.get(bankURL + "/balance")
        let body = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        return (body["received"] as? NSNumber)?.int64Value ?? -1
    }

    /// A failure drill at the bank (the operator's: the key the gateway and the bank share).
    static func drill(_ client: HTTPClient, _ bankURL: String, state: String, _ json: [String: Any]) async throws {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(bankURL + "/faults"))
        let key = try String(contentsOfFile: state + "/bank-notice.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try request.fields.append(name: "Authorization", value: "Bearer \(key)")
        request.body = Array(try JSONSerialization.data(withJSONObject: json))
        #expect(try await client.execute(request).status == 200, "the bank takes the drill")
    }

    /// The process ids in the cluster's `instances 1: port P, process N; …` line, in order.
    static func instancePIDs(_ output: String) -> [pid_t] {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("instances ") }) else { return [] }
        return line.split(separator: ";").compactMap { part in
            part.split(separator: " ").last.flatMap { pid_t($0) }
        }
    }
}
}  // extension SeparateProcesses
#endif
