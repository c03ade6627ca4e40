// End-to-end card charges through the whole payment system, in one process on loopback over
// HTTPS (keep-alive everywhere), and — in the same run — NetLab's own HTTPS "hello" as the
// reference for what one request costs on this stack.
//
// usage: payment-bench-netlab [SECONDS=10] [CONCURRENCY=32]
//
// One charge = what a shopper's checkout does with a non-3-D-Secure sandbox card:
//   customer → gateway   GET  /v2/token            (card → token)
//   customer → merchant  POST /orders              (the shop)
//     merchant → gateway POST /v2/charge           (Basic auth, JSON)
//       gateway → fraud  POST /v1/assess
//       gateway → bank   POST /cards/authorize
//       (SQLite: reserve, then outcome + outbox row, one commit each)
//   notification → merchant POST /notifications    (the signed webhook, after the answer)
//     merchant → gateway GET  /v2/{id}/status      (the shop confirms before applying)
// = 7 HTTPS requests, 5 on the answer's critical path. Latency is measured per charge from
// the token request to the shop's answer; webhooks are counted until every order is `paid`.
// Prints one JSON line per measurement.
import Foundation
import NetLab
import PaymentFlow
import Synchronization
import TLSWrapper

let arguments = CommandLine.arguments
let seconds = arguments.count > 1 ? Int(arguments[1]) ?? 10 : 10
let concurrency = arguments.count > 2 ? Int(arguments[2]) ?? 32 : 32

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

/// Runs `work` from `concurrency` tasks for `duration`; returns each call's latency in ms and failures.
func drive(_ duration: Duration, _ work: @escaping @Sendable () async throws -> Void) async -> (latencies: [Double], failures: Int) {
    let end = ContinuousClock.now + duration
    return await withTaskGroup(of: ([Double], Int).self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                var latencies: [Double] = []
                var failures = 0
                while ContinuousClock.now < end {
                    let start = ContinuousClock.now
                    do {
                        try await work()
                        latencies.append(milliseconds(ContinuousClock.now - start))
                    } catch {
                        failures += 1
                        if failures == 1 { FileHandle.standardError.write(Data("first failure: \(error)\n".utf8)) }
                    }
                }
                return (latencies, failures)
            }
        }
        var all: [Double] = [], failures = 0
        for await (latencies, failed) in group { all += latencies; failures += failed }
        return (all.sorted(), failures)
    }
}

func report(_ name: String, _ result: (latencies: [Double], failures: Int), extra: String = "") {
    let rate = Double(result.latencies.count) / Double(seconds)
    print(String(format: "{\"test\":\"%@\",\"concurrency\":%d,\"seconds\":%d,\"count\":%d,\"failures\":%d,\"per_second\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f%@}",
                 name, concurrency, seconds, result.latencies.count, result.failures, rate,
                 percentile(result.latencies, 0.50), percentile(result.latencies, 0.99), extra))
}

let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-bench-\(UUID().uuidString)").path
defer { try? FileManager.default.removeItem(atPath: state) }
var options = PaymentSystemOptions(stateDirectory: state)
options.retryPolicy = .compressed(by: 1.0 / 1000)
options.pollInterval = .milliseconds(20)
// Every charge uses the same sandbox card: the sandbox's fraud rules (the default) have no
// velocity rule that would deny them.
let system = try await PaymentSystem.start(options)
let customer = system.customer()

// Reference: NetLab HTTPS hello, same client, same TLS, same concurrency.
var router = Router()
router.get("/hello") { _ in .text("Hello, World!") }
let ca = try LabCertificateAuthority(directory: state + "/ca")
let leaf = try ca.issue(name: "hello")
let hello = HTTPServer(router: router)
let helloAddress = try await hello.start(host: "127.0.0.1", port: 0,
                                         tls: try TLSContext(.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath)))
let helloURL = "https://127.0.0.1:\(helloAddress.port)/hello"
let client = system.client
_ = await drive(.seconds(1)) { _ = try await client.get(helloURL) }  // warm-up: connections, TLS sessions
report("https_hello_netlab", await drive(.seconds(seconds)) {
    let response = try await client.get(helloURL)
    guard response.status == 200 else { throw HTTPError(status: response.status, message: "hello") }
})

// Warm-up charges, then the measured run.
let card = Customer.Card(number: "4411111111111118")
let placed = Mutex<[String]>([])
_ = await drive(.seconds(1)) { _ = try await customer.payByCard("kopi", card: card) }
let result = await drive(.seconds(seconds)) {
    let order = try await customer.payByCard("kopi", card: card)
    guard order.status == .paid || order.transaction_status == "capture" else {
        throw HTTPError(status: 500, message: "charge ended \(order.status.rawValue): \(order.message ?? "")")
    }
    placed.withLock { $0.append(order.order_id) }
}
// Webhooks: wait until the shop has applied every capture (each verified + confirmed by status).
let drainStart = ContinuousClock.now
let ids = placed.withLock { $0 }
var pending = ids.filter { system.shop!.order($0)?.status != .paid }.count
let drainLimit = ContinuousClock.now + .seconds(120)
while pending > 0 && ContinuousClock.now < drainLimit {
    try await Task.sleep(for: .milliseconds(50))
    pending = ids.filter { system.shop!.order($0)?.status != .paid }.count
}
let counts = system.shop!.webhookCounts
report("card_charge_end_to_end", result, extra: String(
    // A card capture's answer already made the order paid: its webhook is then a duplicate,
    // verified and confirmed, that changes nothing (applied counts the ones that did).
    format: ",\"webhooks_received\":%d,\"webhooks_applied\":%d,\"webhooks_duplicate\":%d,\"webhooks_rejected\":%d,\"orders_not_paid_after_drain\":%d,\"drain_ms\":%.0f",
    counts.received, counts.applied, counts.duplicates, counts.rejected, pending, milliseconds(ContinuousClock.now - drainStart)))
await hello.shutdown(gracePeriod: .zero)
await system.shutdown()
