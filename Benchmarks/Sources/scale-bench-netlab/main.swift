// Card charges against a payment system already running as separate processes (`netlab serve
// …`): the load generator of Benchmarks/run-scale-out.sh, which starts the services, one gateway
// or several behind nginx, on SQLite or PostgreSQL.
//
// usage: scale-bench-netlab SHOP_URL GATEWAY_URL BANK_URL CA_FILE [SECONDS=10] [CONCURRENCY=32] [LABEL]
//
// One charge is a shopper's checkout with a non-3-D-Secure sandbox card, as in
// payment-bench-netlab: token from the gateway, order at the shop (which charges at the
// gateway, which asks fraud detection and the bank). Prints one JSON line.
import Foundation
import NetLab
import PaymentFlow
import TLSWrapper

let arguments = CommandLine.arguments
guard arguments.count >= 5 else {
    FileHandle.standardError.write(Data("usage: scale-bench-netlab SHOP_URL GATEWAY_URL BANK_URL CA_FILE [SECONDS] [CONCURRENCY] [LABEL]\n".utf8))
    exit(2)
}
let (shopURL, gatewayURL, bankURL, caFile) = (arguments[1], arguments[2], arguments[3], arguments[4])
let seconds = arguments.count > 5 ? Int(arguments[5]) ?? 10 : 10
let concurrency = arguments.count > 6 ? Int(arguments[6]) ?? 32 : 32
let label = arguments.count > 7 ? arguments[7] : "card_charge"

var configuration = HTTPClientConfiguration()
configuration.tls = try TLSContext(.client(trustRootsFile: caFile))
configuration.requestTimeout = .seconds(20)
configuration.maxIdleConnectionsPerHost = 64
let client = HTTPClient(configuration: configuration)
let customer = Customer(shopURL: shopURL, gatewayURL: gatewayURL, bankURL: bankURL, clientKey: PaymentSystemOptions.defaultClientKey, client: client)
let card = Customer.Card(number: "4411111111111118")

func milliseconds(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

func drive(_ duration: Duration) async -> (latencies: [Double], failures: Int) {
    let end = ContinuousClock.now + duration
    return await withTaskGroup(of: ([Double], Int).self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                var latencies: [Double] = [], failures = 0
                while ContinuousClock.now < end {
                    let start = ContinuousClock.now
                    do {
                        let order = try await customer.payByCard("kopi", card: card)
                        guard order.status == .paid || order.transaction_status == "capture" else { throw HTTPError(status: 500, message: "not paid") }
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

_ = await drive(.seconds(2))  // warm-up: connections, TLS sessions, caches
let result = await drive(.seconds(seconds))
func percentile(_ p: Double) -> Double { result.latencies.isEmpty ? 0 : result.latencies[min(result.latencies.count - 1, Int(Double(result.latencies.count) * p))] }
print(String(format: "{\"test\":\"%@\",\"concurrency\":%d,\"seconds\":%d,\"count\":%d,\"failures\":%d,\"per_second\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f}",
             label, concurrency, seconds, result.latencies.count, result.failures, Double(result.latencies.count) / Double(seconds),
             percentile(0.50), percentile(0.99)))
await client.shutdown()
