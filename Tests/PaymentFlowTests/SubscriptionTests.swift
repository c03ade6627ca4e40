import Foundation
import HTTPParser
import NetLab
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// Subscriptions: the API's answers, and the schedule kept by the gateway's timers on a clock
/// the test moves — charges on time, retries, the end, a charge made twice prevented.
@Suite("Subscriptions", .serialized, .timeLimit(.minutes(3)))
struct SubscriptionTests {
    typealias Harness = RaceTests.Harness

    /// A system on a hand-moved clock, and a saved card.
    static func start() async throws -> (Harness, ManualClock, String) {
        let clock = ManualClock()
        let h = try await Harness.start { $0.now = { clock.now } }
        let saved = try #require(try await SavedCardTests.register(h).body["saved_token_id"] as? String)
        return (h, clock, saved)
    }

    static func create(_ h: Harness, _ body: [String: Any]) async throws -> (status: Int, body: [String: Any], replayed: Bool) {
        try await h.call(.post, "/v1/subscriptions", body)
    }

    static func monthly(token: String, start: Date, max: Int? = nil, extra: [String: Any] = [:]) -> [String: Any] {
        var schedule: [String: Any] = ["interval": 1, "interval_unit": "month", "start_time": Timestamp.midtrans(start) + " +0700"]
        if let max { schedule["max_interval"] = max }
        return ["name": "KOPI_MONTHLY", "amount": "20000", "currency": "IDR", "payment_type": "credit_card", "token": token,
                "schedule": schedule, "metadata": ["plan": "kopi"]].merging(extra) { $1 }
    }

    static func subscription(_ h: Harness, _ id: String) throws -> Subscription {
        try #require(try h.system.gateway!.accounts.subscription(id: id))
    }

    @Test("create answers the subscription (active, its schedule); get finds it; the API's errors carry no status_code, only the HTTP status")
    func api() async throws {
        let (h, clock, saved) = try await Self.start()
        let created = try await Self.create(h, Self.monthly(token: saved, start: clock.now.addingTimeInterval(3600)))
        #expect(created.status == 200 && created.body["status"] as? String == "active" && created.body["amount"] as? String == "20000", "\(created.body)")
        let id = try #require(created.body["id"] as? String)
        let schedule = try #require(created.body["schedule"] as? [String: Any])
        #expect(schedule["next_execution_at"] as? String == Timestamp.midtrans(clock.now.addingTimeInterval(3600)) && schedule["current_interval"] as? Int == 0)
        let found = try await h.call(.get, "/v1/subscriptions/\(id)")
        #expect(found.body["id"] as? String == id && (found.body["metadata"] as? [String: Any])?["plan"] as? String == "kopi")
        let missing = try await h.call(.get, "/v1/subscriptions/123")
        #expect(missing.status == 404 && missing.body["status_message"] as? String == "Subscription doesn't exist." && missing.body["status_code"] == nil)
        var zero = Self.monthly(token: saved, start: clock.now.addingTimeInterval(60))
        zero["amount"] = "0"
        let refused = try await Self.create(h, zero)
        #expect(refused.status == 400 && (refused.body["validation_messages"] as? [String]) == ["subscription.amount must be between 0.01 - 99999999999.00"])
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/v1/subscriptions"))
        request.basicAuthorization(user: h.system.options.serverKey)
        request.body = Array("null".utf8)
        let null = try await h.system.client.execute(request)
        #expect(null.status == 400 && String(decoding: null.body, as: UTF8.self).contains("Bad request"))
        let patched = try await h.call(.patch, "/v1/subscriptions/\(id)", ["metadata": ["plan": "teh"], "amount": "25000"])
        #expect(patched.body["status_message"] as? String == "Subscription is updated.")
        let after = try await h.call(.get, "/v1/subscriptions/\(id)").body
        #expect((after["metadata"] as? [String: Any])?["plan"] as? String == "teh" && after["amount"] as? String == "25000")
        #expect(try await h.call(.patch, "/v1/subscriptions/\(id)", ["payment_type": "gopay"]).status == 400)
        await h.stop()
    }

    @Test("charged on schedule by the timers: one charge per month, each a transaction the bank holds; inactive after max_interval")
    func schedule() async throws {
        let (h, clock, saved) = try await Self.start()
        let start = clock.now.addingTimeInterval(60)
        let id = try #require(try await Self.create(h, Self.monthly(token: saved, start: start, max: 2)).body["id"] as? String)
        try await h.system.gateway!.applyTimers()
        #expect(try Self.subscription(h, id).currentInterval == 0, "not due yet")
        clock.advance(by: 61)
        try await EndToEndTests.eventually("the first charge") { try Self.subscription(h, id).currentInterval == 1 }
        let first = try Self.subscription(h, id)
        let order = first.orderID(forCharge: 1)
        #expect(try h.transaction(order)?.state.status == .capture)
        #expect(try h.held(order) == Rupiah(20000))
        #expect(try h.notified(order) == ["capture"])
        let next = Date(timeIntervalSince1970: Double(first.nextExecutionAt) / 1000)
        #expect(next.timeIntervalSince(start) > 27 * 86400 && next.timeIntervalSince(start) < 32 * 86400, "a calendar month later")
        clock.advance(by: next.timeIntervalSince(clock.now) + 1)
        try await EndToEndTests.eventually("the second and last charge") { try Self.subscription(h, id).status == .inactive }
        let last = try Self.subscription(h, id)
        #expect(last.currentInterval == 2 && last.transactionIDs.count == 2)
        await h.stop()
    }

    @Test("enabled again after ten missed days: one charge, and the next is a day after it — the missed days are not charged one after another")
    func catchUp() async throws {
        let (h, clock, saved) = try await Self.start()
        var body = Self.monthly(token: saved, start: clock.now.addingTimeInterval(60))
        body["schedule"] = ["interval": 1, "interval_unit": "day", "start_time": Timestamp.midtrans(clock.now.addingTimeInterval(60)) + " +0700"]
        let id = try #require(try await Self.create(h, body).body["id"] as? String)
        clock.advance(by: 61)
        try await EndToEndTests.eventually("the first charge") { try Self.subscription(h, id).currentInterval == 1 }
        _ = try await h.call(.post, "/v1/subscriptions/\(id)/disable")
        clock.advance(by: 10 * 86400)
        _ = try await h.call(.post, "/v1/subscriptions/\(id)/enable")
        try await EndToEndTests.eventually("charged once on enabling") { try Self.subscription(h, id).currentInterval == 2 }
        for _ in 0..<3 { try await h.system.gateway!.applyTimers() }
        let after = try Self.subscription(h, id)
        #expect(after.currentInterval == 2, "the missed days are skipped")
        #expect(after.nextExecutionAt > Timestamp.millis(clock.now) && after.nextExecutionAt <= Timestamp.millis(clock.now.addingTimeInterval(86400)))
        await h.stop()
    }

    @Test("a create retried with its Idempotency-Key makes one subscription, not two")
    func idempotentCreate() async throws {
        let (h, clock, saved) = try await Self.start()
        let body = Self.monthly(token: saved, start: clock.now.addingTimeInterval(3600))
        let first = try await h.call(.post, "/v1/subscriptions", body, idempotencyKey: "sub-key-1")
        let again = try await h.call(.post, "/v1/subscriptions", body, idempotencyKey: "sub-key-1")
        #expect(again.replayed && again.body["id"] as? String == first.body["id"] as? String, "\(first.body) \(again.body)")
        await h.stop()
    }

    @Test("disabled, nothing is charged when due; enabled again, the charge is made")
    func disableEnable() async throws {
        let (h, clock, saved) = try await Self.start()
        let id = try #require(try await Self.create(h, Self.monthly(token: saved, start: clock.now.addingTimeInterval(60))).body["id"] as? String)
        #expect(try await h.call(.post, "/v1/subscriptions/\(id)/disable").body["status_message"] as? String == "Subscription is updated.")
        #expect(try await h.call(.get, "/v1/subscriptions/\(id)").body["status"] as? String == "inactive")
        clock.advance(by: 120)
        try await h.system.gateway!.applyTimers()
        #expect(try Self.subscription(h, id).currentInterval == 0)
        _ = try await h.call(.post, "/v1/subscriptions/\(id)/enable")
        try await EndToEndTests.eventually("charged once enabled") { try Self.subscription(h, id).currentInterval == 1 }
        await h.stop()
    }

    @Test("a charge that fails is retried on the retry schedule; when the retries run out the subscription is inactive")
    func retries() async throws {
        let (h, clock, _) = try await Self.start()
        let body = Self.monthly(token: "DUMMY", start: clock.now.addingTimeInterval(60),
                                extra: ["retry_schedule": ["interval": 10, "interval_unit": "minute", "max_interval": 2]])
        let id = try #require(try await Self.create(h, body).body["id"] as? String, "the token is not checked at creation (as the sandbox)")
        clock.advance(by: 61)
        try await EndToEndTests.eventually("the first try failed") { try Self.subscription(h, id).retries == 1 }
        #expect(try Self.subscription(h, id).status == .active)
        clock.advance(by: 601)
        try await EndToEndTests.eventually("the first retry failed") { try Self.subscription(h, id).retries == 2 }
        clock.advance(by: 601)
        try await EndToEndTests.eventually("out of retries") { try Self.subscription(h, id).status == .inactive }
        #expect(try Self.subscription(h, id).currentInterval == 0)
        await h.stop()
    }

    @Test("charge n made before the gateway wrote it down (a crash): the next try meets the duplicate order id and takes that charge — never two")
    func chargedOnce() async throws {
        let (h, clock, saved) = try await Self.start()
        let id = try #require(try await Self.create(h, Self.monthly(token: saved, start: clock.now.addingTimeInterval(60))).body["id"] as? String)
        let order = try Self.subscription(h, id).orderID(forCharge: 1)
        // The charge the crashed pass made: the bank approved it, the subscription never heard.
        let made = try await SavedCardTests.charge(h, token: saved, order: order)
        #expect(made.body["transaction_status"] as? String == "capture")
        clock.advance(by: 61)
        try await EndToEndTests.eventually("the pass takes the charge it finds") { try Self.subscription(h, id).currentInterval == 1 }
        #expect(try Self.subscription(h, id).transactionIDs == [made.body["transaction_id"] as? String])
        #expect(try h.held(order) == Rupiah(20000), "charged once")
        #expect(try h.system.store!.transactions(merchantID: h.merchantID, orderID: order).count == 1)
        await h.stop()
    }

    @Test("two timer passes at once (two gateways on one store): the claim lets one charge")
    func concurrentPasses() async throws {
        let (h, clock, saved) = try await Self.start()
        let id = try #require(try await Self.create(h, Self.monthly(token: saved, start: clock.now.addingTimeInterval(60))).body["id"] as? String)
        // One pass stops after listing the due subscription; another runs to the end meanwhile.
        let gateway = h.system.gateway!
        let hold = gateway.checkpoints.hold(.subscriptionsListed)
        clock.advance(by: 61)
        await hold.reached()
        #expect(await gateway.subscriptions.chargeDue() == 1, "the second pass claims and charges")
        hold.release()
        try await EndToEndTests.eventually("charged") { try Self.subscription(h, id).currentInterval == 1 }
        #expect(await gateway.subscriptions.chargeDue() == 0, "nothing is due any more")
        #expect(try h.system.store!.transactions(merchantID: h.merchantID, orderID: try Self.subscription(h, id).orderID(forCharge: 1)).count == 1)
        await h.stop()
    }

    @Test("a GoPay subscription charges the linked wallet without the PIN (recurring), whatever the amount")
    func gopay() async throws {
        let (h, clock, _) = try await Self.start()
        let account = try await PayAccountTests.linkedAccount(h)
        var body = Self.monthly(token: account.token, start: clock.now.addingTimeInterval(60))
        body["payment_type"] = "gopay"
        body["amount"] = "150000"
        body["gopay"] = ["account_id": account.id]
        let id = try #require(try await Self.create(h, body).body["id"] as? String)
        clock.advance(by: 61)
        try await EndToEndTests.eventually("charged") { try Self.subscription(h, id).currentInterval == 1 }
        let order = try Self.subscription(h, id).orderID(forCharge: 1)
        #expect(try h.transaction(order)?.state.status == .settlement)
        await h.stop()
    }
}
}  // extension WholeSystems
