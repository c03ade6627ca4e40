import Foundation
import HTTPParser
import TCPSocket
import NetLab
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// The whole payment system on loopback over HTTPS — bank, gateway (payment, fraud and
/// notification services), merchant — driven by the customer. Every scenario checks all sides:
/// the bank's books, the gateway's record and outbox, and the merchant's order.
@Suite("Payment system end to end", .serialized, .timeLimit(.minutes(3)))
struct EndToEndTests {
    /// A fresh system in a temporary state folder, with compressed clocks.
    static func start(_ tweak: (inout PaymentSystemOptions) -> Void = { _ in }) async throws -> PaymentSystem {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-e2e-\(UUID().uuidString)").path
        var options = PaymentSystemOptions(stateDirectory: directory)
        options.retryPolicy = RetryPolicy(delays: [.milliseconds(100), .milliseconds(200), .milliseconds(300), .milliseconds(400), .milliseconds(500)], jitter: false)
        options.pollInterval = .milliseconds(25)
        tweak(&options)
        return try await PaymentSystem.start(options)
    }

    /// Waits (up to `limit`, 10 s by default: only a guard against hangs) until `condition` holds.
    static func eventually(_ what: String, within limit: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting for: \(what)")
    }

    static func stop(_ system: PaymentSystem) async {
        await system.shutdown()
        try? FileManager.default.removeItem(atPath: system.options.stateDirectory)
    }

    @Test("card with 3-D Secure: paid; the bank has the money, the gateway captured, the merchant's order is paid by webhook")
    func cardAccepted() async throws {
        let system = try await Self.start()
        let customer = system.customer()
        let bankBefore = try system.bank!.balance
        let order = try await customer.payByCard("kopi", card: .init(number: "4811111111111114"))
        #expect(order.transaction_status == "capture")
        #expect(try system.bank!.balance.amount - bankBefore.amount == 85000)
        let record = try #require(try system.store!.find(merchantID: system.options.merchantID, id: order.order_id))
        #expect(record.state.status == .capture && record.state.fraud == .accept)
        try await Self.eventually("the capture webhook is delivered and applied") {
            try system.store!.notifications(merchantID: system.options.merchantID, orderID: order.order_id)
                .contains { $0.transactionStatus == "capture" && $0.deliveredAt != nil }
                && system.shop!.order(order.order_id)?.status == .paid
        }
        await Self.stop(system)
    }

    @Test("denied by the bank; denied by fraud rules (never reaching the bank); a challenge approved and one denied")
    func denials() async throws {
        let system = try await Self.start()
        let customer = system.customer()
        let denied = try await customer.payByCard("kopi", card: .init(number: "4711111111111115"))
        #expect(denied.status == .denied)
        let balance = try system.bank!.balance
        let fraud = try await customer.payByCard("kopi", card: .init(number: "4611111111111116"))
        #expect(fraud.status == .denied)
        #expect(try system.bank!.balance == balance, "a fraud-denied card never reaches the bank")
        let challenged = try await customer.payByCard("batik", card: .init(number: "4511111111111117"))
        #expect(challenged.status == .awaitingReview)
        let (approved, _) = try await system.shop!.gateway(.post, "/v2/\(challenged.order_id)/approve", nil)
        #expect(approved == 200)
        try await Self.eventually("the merchant learns of the approval") { system.shop!.order(challenged.order_id)?.status == .paid }
        let other = try await customer.payByCard("batik", card: .init(number: "5510111111111115"))
        _ = try await system.shop!.gateway(.post, "/v2/\(other.order_id)/deny", nil)
        try await Self.eventually("the merchant learns of the denial") { system.shop!.order(other.order_id)?.status == .cancelled }
        await Self.stop(system)
    }

    @Test("virtual account: pending, paid at the bank's ATM, settled at the gateway, paid at the merchant")
    func virtualAccount() async throws {
        let system = try await Self.start()
        let customer = system.customer()
        let order = try await customer.order("batik", payment: ["type": "bank_transfer", "bank": "bca"])
        #expect(order.status == .awaitingPayment)
        let number = try #require(order.va_number)
        try await customer.payAtBank(number)
        try await Self.eventually("settlement reaches the merchant") { system.shop!.order(order.order_id)?.status == .paid }
        let record = try #require(try system.store!.find(merchantID: system.options.merchantID, id: order.order_id))
        #expect(record.state.status == .settlement)
        // Paying twice is refused by the bank.
        await #expect(throws: Customer.CheckoutError.self) { try await customer.payAtBank(number) }
        await Self.stop(system)
    }

    @Test("gopay, qris and a Mandiri bill are created pending and paid at the bank")
    func otherChannels() async throws {
        let system = try await Self.start()
        let customer = system.customer()
        for type in ["gopay", "qris", "echannel"] {
            let order = try await customer.order("kopi", payment: ["type": type])
            #expect(order.status == .awaitingPayment, "\(type)")
            let record = try #require(try system.store!.find(merchantID: system.options.merchantID, id: order.order_id))
            try await customer.payAtBank(try #require(record.vaNumber))
            try await Self.eventually("\(type) settles at the merchant") { system.shop!.order(order.order_id)?.status == .paid }
        }
        await Self.stop(system)
    }

    @Test("expiry: an unpaid VA expires by time; the bank then refuses the late payment")
    func expiry() async throws {
        let system = try await Self.start { $0.paymentExpiry = .seconds(1) }
        let customer = system.customer()
        let order = try await customer.order("kopi", payment: ["type": "bank_transfer", "bank": "bni"])
        try await Self.eventually("the order expires everywhere") { system.shop!.order(order.order_id)?.status == .expired }
        await #expect(throws: Customer.CheckoutError.self) { try await customer.payAtBank(order.va_number ?? "") }
        await Self.stop(system)
    }

    @Test("cancel, then refund after D+1 settlement (partial, then the rest)")
    func cancelAndRefund() async throws {
        let system = try await Self.start { $0.settlementDelay = .seconds(1) }
        let customer = system.customer()
        let pending = try await customer.order("kopi", payment: ["type": "bank_transfer", "bank": "bri"])
        _ = try await system.shop!.gateway(.post, "/v2/\(pending.order_id)/cancel", nil)
        try await Self.eventually("cancelled at the merchant") { system.shop!.order(pending.order_id)?.status == .cancelled }

        let paid = try await customer.payByCard("kopi", card: .init(number: "4411111111111118"))
        try await Self.eventually("settled at D+1") {
            try system.store!.find(merchantID: system.options.merchantID, id: paid.order_id)?.state.status == .settlement
        }
        let (early, _) = try await system.shop!.gateway(.post, "/v2/\(paid.order_id)/refund", ["amount": 5000, "refund_key": "r1"])
        #expect(early == 200)
        try await Self.eventually("partially refunded at the merchant") { system.shop!.order(paid.order_id)?.status == .partiallyRefunded }
        let (rest, body) = try await system.shop!.gateway(.post, "/v2/\(paid.order_id)/refund", [:])
        #expect(rest == 200 && body["transaction_status"] as? String == "refund")
        try await Self.eventually("refunded at the merchant") { system.shop!.order(paid.order_id)?.status == .refunded }
        await Self.stop(system)
    }

    @Test("merchant down: the webhook is retried on the schedule and delivered once the merchant is back")
    func merchantDown() async throws {
        // The outbox's clock moves only when the test says: the retry cannot come (and the retries
        // cannot run out) before the merchant is back, however slow the machine.
        let clock = ManualClock()
        let system = try await Self.start { $0.now = { clock.now } }
        system.shop!.setAcceptingWebhooks(false)
        let order = try await system.customer().order("kopi", payment: ["type": "bank_transfer", "bank": "bca"])
        try await Self.eventually("a failed attempt is recorded") {
            try system.store!.notifications(merchantID: system.options.merchantID, orderID: order.order_id).first.map { $0.attempts >= 1 && $0.lastResult == "503" } ?? false
        }
        let waiting = try #require(try system.store!.notifications(merchantID: system.options.merchantID, orderID: order.order_id).first)
        #expect(waiting.attempts == 1 && waiting.deliveredAt == nil, "no retry before its time")
        system.shop!.setAcceptingWebhooks(true)
        clock.advance(by: 1)  // past the first retry's delay (100 ms)
        try await Self.eventually("delivered after the merchant returned") {
            try system.store!.notifications(merchantID: system.options.merchantID, orderID: order.order_id).allSatisfy { $0.deliveredAt != nil }
        }
        #expect(system.shop!.order(order.order_id)?.transaction_status == "pending")
        await Self.stop(system)
    }

    @Test("a forged webhook (wrong signature) and a replayed one are refused or change nothing")
    func forgedAndReplayed() async throws {
        let system = try await Self.start()
        let order = try await system.customer().order("kopi", payment: ["type": "bank_transfer", "bank": "bca"])
        try await system.customer().payAtBank(order.va_number ?? "")
        try await Self.eventually("paid") { system.shop!.order(order.order_id)?.status == .paid }
        let shopURL = system.urls[.merchant]!
        var forged: [String: Any] = [
            "order_id": order.order_id, "status_code": "202", "gross_amount": order.gross_amount, "transaction_id": order.transaction_id ?? "",
            "transaction_status": "cancel", "signature_key": String(repeating: "0", count: 128),
        ]
        let forgedAnswer = try await system.client.post(shopURL + "/notifications", body: Array(try JSONSerialization.data(withJSONObject: forged)))
        #expect(forgedAnswer.status == 401)
        // A replay of a genuine, older notification: signed correctly, but the gateway's status
        // says settlement, so the order stays paid.
        let genuine = try #require(try system.store!.notifications(merchantID: system.options.merchantID, orderID: order.order_id).first)
        let replay = try await system.client.post(shopURL + "/notifications", body: genuine.body)
        #expect(replay.status == 200)
        #expect(system.shop!.order(order.order_id)?.status == .paid)
        forged["signature_key"] = NotificationSignature.compute(orderID: order.order_id, statusCode: "202", grossAmount: order.gross_amount, serverKey: "wrong")
        #expect(try await system.client.post(shopURL + "/notifications", body: Array(try JSONSerialization.data(withJSONObject: forged))).status == 401)
        #expect(system.shop!.webhookCounts.rejected == 2)
        await Self.stop(system)
    }

    @Test("duplicate order_id is 406; a wrong server key is 401; an Idempotency-Key replays the first answer")
    func duplicatesAndKeys() async throws {
        let system = try await Self.start()
        let gatewayURL = system.urls[.gateway]!
        func charge(_ key: String, idempotency: String? = nil) async throws -> HTTPClientResponse {
            var request = HTTPClientRequest(method: .post, url: try HTTPURL(gatewayURL + "/v2/charge"))
            request.body = Array(#"{"payment_type":"bank_transfer","transaction_details":{"order_id":"dup-1","gross_amount":10000},"bank_transfer":{"bank":"bca"}}"#.utf8)
            request.basicAuthorization(user: key)
            if let idempotency { try request.fields.append(name: "Idempotency-Key", value: idempotency) }
            return try await system.client.execute(request)
        }
        let first = try await charge(system.options.serverKey, idempotency: "k-1")
        #expect(first.status == 200)
        let replay = try await charge(system.options.serverKey, idempotency: "k-1")
        #expect(replay.status == 200 && replay.body == first.body && replay.fields["Idempotent-Replayed"] == "true")
        #expect(try await charge(system.options.serverKey).status == 406)
        #expect(try await charge("SB-Mid-server-wrong").status == 401)
        await Self.stop(system)
    }

    @Test("restarted on the same state: transactions, merchants, the undelivered outbox, the shop's orders and the bank's accounts survive")
    func restart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-restart-\(UUID().uuidString)").path
        var options = PaymentSystemOptions(stateDirectory: directory)
        options.pollInterval = .milliseconds(25)
        options.retryPolicy = RetryPolicy(delays: [.milliseconds(50)], jitter: false)
        let first = try await PaymentSystem.start(options)
        first.shop!.setAcceptingWebhooks(false)
        let order = try await first.customer().order("kopi", payment: ["type": "bank_transfer", "bank": "bca"])
        await first.shutdown()
        // The new process: same state folder, fresh everything else.
        let second = try await PaymentSystem.start(options)
        let record = try #require(try second.store!.find(merchantID: options.merchantID, id: order.order_id))
        #expect(record.state.status == .pending)
        let undelivered = try second.store!.notifications(merchantID: options.merchantID, orderID: order.order_id)
        #expect(!undelivered.isEmpty)
        // The shop kept its order too (merchant.sqlite), so the queued webhook is verified and applied.
        let kept = try await second.customer().order(status: order.order_id)
        #expect(kept.transaction_id == order.transaction_id && kept.va_number == order.va_number)
        // The restarted bank kept the account (bank.sqlite): the customer pays it now.
        try await second.customer().payAtBank(try #require(order.va_number))
        try await Self.eventually("the restarted shop applies the settlement webhook to the order it kept") {
            second.shop!.order(order.order_id)?.status == .paid
        }
        await second.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test("one merchant cannot see or change another's transactions")
    func isolation() async throws {
        let system = try await Self.start()
        try system.store!.saveMerchant(MerchantAccount(merchantID: "G-OTHER", serverKey: "SB-Mid-server-other", clientKey: "SB-Mid-client-other"))
        let order = try await system.customer().order("kopi", payment: ["type": "bank_transfer", "bank": "bca"])
        let other = try MerchantShop(merchantID: "G-OTHER", serverKey: "SB-Mid-server-other", gatewayURL: system.urls[.gateway]!, client: system.client)
        #expect(try await other.gateway(.get, "/v2/\(order.order_id)/status", nil).0 == 404)
        #expect(try await other.gateway(.post, "/v2/\(order.order_id)/cancel", nil).0 == 404)
        #expect(try system.store!.find(merchantID: system.options.merchantID, id: order.order_id)?.state.status == .pending)
        await Self.stop(system)
    }

    @Test("the fraud service stopped: card charges answer 504, bank transfers still work")
    func fraudDown() async throws {
        let system = try await Self.start()
        await system.stop(.fraud)
        let customer = system.customer()
        let card = try await customer.payByCard("kopi", card: .init(number: "4411111111111118"))
        #expect(card.status == .failed)
        #expect(card.message == "Fraud detection unavailable")
        let transfer = try await customer.order("kopi", payment: ["type": "bank_transfer", "bank": "bca"])
        #expect(transfer.status == .awaitingPayment)
        await Self.stop(system)
    }

    @Test("retries follow the merchant's answer: 404 earns 2 retries, then the history says gave_up; X-Override-Notification picks the URL")
    func retryPolicyAndHistory() async throws {
        #expect([500, 503, 400, 404, 302, 418, nil].map { RetryPolicy.retries(afterStatus: $0) } == [1, 4, 2, 2, 0, 5, 5])
        let system = try await Self.start()
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(system.urls[.gateway]! + "/v2/charge"))
        request.body = Array(#"{"payment_type":"qris","transaction_details":{"order_id":"override-1","gross_amount":5000}}"#.utf8)
        request.basicAuthorization(user: system.options.serverKey)
        try request.fields.append(name: "X-Override-Notification", value: system.urls[.merchant]! + "/no-such-webhook")
        #expect(try await system.client.execute(request).status == 200)
        try await Self.eventually("the notification service gives up after 3 attempts") {
            try system.store!.notifications(merchantID: system.options.merchantID, orderID: "override-1").first?.gaveUpAt != nil
        }
        let entry = try #require(try system.store!.notifications(merchantID: system.options.merchantID, orderID: "override-1").first)
        #expect(entry.attempts == 3 && entry.lastResult == "404" && entry.url.hasSuffix("/no-such-webhook"))
        var history = HTTPClientRequest(url: try HTTPURL(system.urls[.notification]! + "/v1/notifications?order_id=override-1"))
        history.basicAuthorization(user: system.options.serverKey)
        let answer = try await system.client.execute(history)
        #expect(answer.status == 200 && String(decoding: answer.body, as: UTF8.self).contains(#""state":"gave_up""#))
        var stranger = history
        stranger.basicAuthorization(user: "SB-Mid-server-wrong")
        #expect(try await system.client.execute(stranger).status == 401)
        await Self.stop(system)
    }

    @Test("a webhook URL answering 307 then 308 is followed with the same POST body; a 301 is not followed and not retried")
    func webhookRedirects() async throws {
        let system = try await Self.start()
        let seen = Locked<[String]>([])
        let listening = Locked<UInt16>(0)
        var router = Router()
        router.post("/old") { _ in HTTPResponse(status: 307, fields: HTTPFields(["Location": "/older"]), body: .bytes([])) }
        router.post("/older") { _ in
            HTTPResponse(status: 308, fields: HTTPFields(["Location": "http://127.0.0.1:\(listening.withLock { $0 })/new"]), body: .bytes([]))
        }
        router.post("/new") { request in
            seen.withLock { $0.append(String(decoding: request.body, as: UTF8.self)) }
            return .text("OK")
        }
        router.post("/moved") { _ in HTTPResponse(status: 301, fields: HTTPFields(["Location": "/new"]), body: .bytes([])) }
        let server = HTTPServer(router: router)
        let port = try await server.start(host: "127.0.0.1", port: 0).port
        listening.withLock { $0 = port }
        for (order, path) in [("redirect-1", "/old"), ("redirect-2", "/moved")] {
            var request = HTTPClientRequest(method: .post, url: try HTTPURL(system.urls[.gateway]! + "/v2/charge"))
            request.body = Array(#"{"payment_type":"qris","transaction_details":{"order_id":"\#(order)","gross_amount":5000}}"#.utf8)
            request.basicAuthorization(user: system.options.serverKey)
            try request.fields.append(name: "X-Override-Notification", value: "http://127.0.0.1:\(port)\(path)")
            #expect(try await system.client.execute(request).status == 200)
        }
        try await Self.eventually("both webhooks are settled: one delivered through two redirects, one given up") {
            let entries = try ["redirect-1", "redirect-2"].compactMap { try system.store!.notifications(merchantID: system.options.merchantID, orderID: $0).first }
            return entries.count == 2 && entries[0].deliveredAt != nil && entries[1].gaveUpAt != nil
        }
        let delivered = try #require(try system.store!.notifications(merchantID: system.options.merchantID, orderID: "redirect-1").first)
        #expect(delivered.lastResult == "307 http://127.0.0.1:\(port)/older → 308 http://127.0.0.1:\(port)/new → 200")
        let bodies = seen.withLock { $0 }
        #expect(bodies.count == 1 && bodies[0].contains(#""order_id":"redirect-1""#) && bodies[0].contains("signature_key"))
        // A Location that is not a URL is not followed; relative ones keep the origin.
        let base = try HTTPURL("https://127.0.0.1:9/hooks")
        #expect(NotificationService.resolve("/a b", against: base) == nil)
        #expect(NotificationService.resolve("/next", against: base)?.description == "https://127.0.0.1:9/next")
        let refused = try #require(try system.store!.notifications(merchantID: system.options.merchantID, orderID: "redirect-2").first)
        #expect(refused.attempts == 1 && refused.lastResult == "301")
        await server.shutdown(gracePeriod: .zero)
        await Self.stop(system)
    }
}
}  // extension WholeSystems

/// A clock a test moves by hand (`PaymentSystemOptions.now`).
final class ManualClock: Sendable {
    private let current = Locked(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
