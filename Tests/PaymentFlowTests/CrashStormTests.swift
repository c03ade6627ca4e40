import Foundation
import HTTPParser
import NetLab
import NetLabTestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import TCPSocket
import TLSWrapper
import Testing

@testable import PaymentFlow

/// The services as separate `netlab serve` processes; card and VA charges run from four
/// workers while the gateway, the bank, the notification service and the fraud service are
/// killed with SIGKILL at seeded random moments and restarted on the same state, and the
/// merchant's endpoint (played by the test) drops every connection and comes back. Afterwards, with everyone back:
/// every answered charge kept its status, every final status reached the merchant with no older
/// status after it, the bank's books equal the gateway's, no VA number was reused, nothing is
/// left in doubt or owed. Bounded: `NETLAB_STORM_KILLS` kills (20 by default); the seed is
/// printed and replayed with `NETLAB_SEED`. (The verdict never depends on timing: the random
/// moments only choose *which* interleavings happen.)
extension SeparateProcesses {
@Suite("Crash storm: services killed at random while charges run", .timeLimit(.minutes(6)))
struct CrashStormTests {
    struct Answered: Sendable {
        var order: String
        var transactionID: String
        var status: String
    }

    final class Record: Sendable {
        let answered = Locked<[Answered]>([])
        let attempted = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
    }

    @Test("20 SIGKILLs of gateway, bank, notification and fraud services (and merchant restarts) mid-traffic: no money lost, doubled or misdirected")
    func storm() async throws {
        let seed = ProcessInfo.processInfo.environment["NETLAB_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        let kills = ProcessInfo.processInfo.environment["NETLAB_STORM_KILLS"].flatMap(Int.init) ?? 20
        print("crash storm: seed \(seed) (replay with NETLAB_SEED=\(seed)), \(kills) kills")
        var random = SplitMix64(seed: seed)
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-storm-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let base = try SeparateProcessTests.freePortBase()
        let flags = ["--port-base", String(base), "--state", state, "--fast", "--payment-expiry", "3", "--settlement-delay", "2",
                     "--notification-timeout", "1"]
        func serve(_ actor: String) async throws -> ServiceProcess {
            try await ServiceProcess.start(["serve", actor] + flags, ready: "\(actor) https://127.0.0.1:")
        }
        var processes: [String: ServiceProcess] = [:]
        for actor in ["bank", "fraud", "notification", "gateway"] { processes[actor] = try await serve(actor) }
        let merchant = try await WebhookReceiver.start(port: base + 2, state: state)

        var configuration = HTTPClientConfiguration()
        configuration.tls = try TLSContext(.client(trustRootsFile: state + "/ca/ca.pem"))
        configuration.requestTimeout = .seconds(10)
        let client = HTTPClient(configuration: configuration)
        let gatewayURL = "https://127.0.0.1:\(base)", bankURL = "https://127.0.0.1:\(base + 1)"
        let customer = Customer(shopURL: "", gatewayURL: gatewayURL, bankURL: bankURL, clientKey: PaymentSystemOptions.defaultClientKey, client: client)
        let record = Record()

        // Four workers: card charges (captured at once) and VA charges (paid at the bank, mostly).
        let workers = (0..<4).map { worker in
            Task {
                var n = 0
                var local = SplitMix64(seed: seed &+ UInt64(worker))
                while !record.stop.load(ordering: .relaxed) {
                    n += 1
                    let order = "storm-\(worker)-\(n)"
                    record.attempted.add(1, ordering: .relaxed)
                    do {
                        let card = local.next() % 2 == 0
                        var json: [String: Any] = ["transaction_details": ["order_id": order, "gross_amount": 10000 + Int(local.next() % 90) * 1000]]
                        if card {
                            json["payment_type"] = "credit_card"
                            json["credit_card"] = ["token_id": try await customer.tokenize(.init(number: "4411111111111118"))]
                        } else {
                            json["payment_type"] = "bank_transfer"
                            json["bank_transfer"] = ["bank": "bca"]
                        }
                        var request = HTTPClientRequest(method: .post, url: try HTTPURL(gatewayURL + "/v2/charge"))
                        request.basicAuthorization(user: PaymentSystemOptions.defaultServerKey)
                        request.body = Array(try JSONSerialization.data(withJSONObject: json))
                        let response = try await client.execute(request)
                        let body = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
                        guard response.status == 200, let id = body["transaction_id"] as? String, let status = body["transaction_status"] as? String else {
                            record.failed.add(1, ordering: .relaxed)
                            continue
                        }
                        record.answered.withLock { $0.append(Answered(order: order, transactionID: id, status: status)) }
                        if !card, local.next() % 4 != 0, let va = (body["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String {
                            _ = try? await client.post(bankURL + "/va/\(va)/pay", body: [])
                        }
                    } catch {
                        record.failed.add(1, ordering: .relaxed)
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
        }

        var killed: [String: Int] = [:]
        for _ in 0..<kills {
            try await Task.sleep(for: .milliseconds(50 + Int(random.next() % 350)))
            let victim = ["gateway", "bank", "notification", "fraud", "merchant"][Int(random.next() % 5)]
            killed[victim, default: 0] += 1
            if victim == "merchant" {
                try await merchant.restart()
                continue
            }
            processes[victim]!.kill(SIGKILL)
            #expect(await processes[victim]!.waitForExit() == SIGKILL, "\(victim) died by SIGKILL")
            processes[victim] = try await serve(victim)
        }
        record.stop.store(true, ordering: .relaxed)
        for worker in workers { await worker.value }

        // Everyone is back: let the timers and the outbox finish (expiry 3 s, settlement 2 s,
        // leases of a killed notifier run out after at most 11 s).
        let store = try SQLiteGatewayStore(path: state + "/gateway.sqlite")
        let merchantID = PaymentSystemOptions(stateDirectory: state).merchantID
        try await EndToEndTests.eventually("the system comes to rest", within: .seconds(90)) {
            let transactions = try Self.transactions(store)
            let outbox = try store.notifications(merchantID: merchantID, orderID: nil)
            let inFlight = try store.chargesInFlight(), owed = try store.bankObligations()
            return transactions.allSatisfy { ![.pending, .capture].contains($0.state.status) } && inFlight.isEmpty && owed.isEmpty
                && outbox.allSatisfy { $0.deliveredAt != nil || $0.gaveUpAt != nil }
        }

        let transactions = try Self.transactions(store)
        let answered = record.answered.withLock { $0 }
        // 1. Every answered charge has its transaction, and its outcome followed from the answer.
        let next: [String: Set<TransactionStatus>] = ["capture": [.settlement], "pending": [.settlement, .expire], "deny": [.deny]]
        for answer in answered {
            let stored = transactions.first { $0.transactionID == answer.transactionID }
            #expect(stored != nil, "answered \(answer.order) has no transaction")
            if let stored { #expect(next[answer.status]?.contains(stored.state.status) == true, "\(answer.order): answered \(answer.status), now \(stored.state.status)") }
        }
        // 2. Every final status the merchant was told of arrived, and never an older one after a newer one.
        let received = merchant.received
        let rank: [String: Int] = ["pending": 1, "capture": 2, "settlement": 3, "expire": 3, "deny": 3, "cancel": 3, "failure": 3]
        for transaction in transactions where transaction.announced {
            let statuses = received.filter { $0.order == transaction.orderID }.map(\.status)
            #expect(statuses.last == transaction.state.status.rawValue, "\(transaction.orderID) is \(transaction.state.status); the merchant heard \(statuses)")
            let ranks = statuses.compactMap { rank[$0] }
            #expect(ranks == ranks.sorted(), "\(transaction.orderID): an older status after a newer one: \(statuses)")
        }
        #expect(received.allSatisfy { $0.signatureValid })
        // 3. The bank's books equal the gateway's, reference by reference; nothing else is held.
        let bank = try BankLedger(path: state + "/bank.sqlite")
        var gatewayTotal = Rupiah.zero
        for transaction in transactions {
            let expected = transaction.state.status == .settlement ? transaction.state.grossAmount : .zero
            gatewayTotal = gatewayTotal + expected
            let held = try bank.holding(reference: transaction.transactionID)
            #expect(held == expected, "\(transaction.orderID) (\(transaction.state.status)): the bank holds \(held), expected \(expected)")
        }
        #expect(try bank.balance() == gatewayTotal, "money at the bank for no transaction the gateway kept")
        // 4. No VA number was used twice, and each belongs to its own transaction.
        let numbers = transactions.compactMap(\.vaNumber)
        #expect(Set(numbers).count == numbers.count)
        for transaction in transactions { if let number = transaction.vaNumber { #expect(try bank.account(number: number)?.reference == transaction.transactionID) } }

        var histogram: [String: Int] = [:]
        for transaction in transactions { histogram[transaction.state.status.rawValue, default: 0] += 1 }
        print("crash storm: seed \(seed); kills \(killed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); "
              + "charges attempted \(record.attempted.load(ordering: .relaxed)), answered \(answered.count), unanswered or refused \(record.failed.load(ordering: .relaxed)); "
              + "transactions \(transactions.count): \(histogram.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); "
              + "webhooks received \(received.count); bank holds \(gatewayTotal)")

        for process in processes.values { process.kill(SIGTERM) }
        for process in processes.values { _ = await process.waitForExit() }
        await merchant.stop()
        await client.shutdown()
    }

    static func transactions(_ store: SQLiteGatewayStore) throws -> [GatewayTransaction] {
        try store.database.execute("SELECT transaction_id, merchant_id FROM transactions").compactMap { row in
            try store.find(merchantID: row[1].text ?? "", id: row[0].text ?? "")
        }
    }
}
}  // extension SeparateProcesses
