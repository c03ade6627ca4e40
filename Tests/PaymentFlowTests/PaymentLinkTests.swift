import Foundation
import HTTPParser
import NetLab
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// The Payment Link API: create, read, delete; the page's payments, each an order of its own,
/// up to the usage limit; expiry.
@Suite("Payment links", .serialized, .timeLimit(.minutes(3)))
struct PaymentLinkTests {
    typealias Harness = RaceTests.Harness

    static func create(_ h: Harness, _ body: [String: Any], key: String? = nil) async throws -> (status: Int, body: [String: Any], replayed: Bool) {
        try await h.call(.post, "/v1/payment-links", body, key: key)
    }

    static func pay(_ h: Harness, _ url: String, _ choice: [String: Any]) async throws -> (status: Int, body: [String: Any]) {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(url + "/charge"))
        request.body = Array(try JSONSerialization.data(withJSONObject: choice))
        try request.fields.append(name: "Content-Type", value: "application/json")
        let response = try await h.system.client.execute(request)
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:])
    }

    static var items: [[String: Any]] { [["id": "kopi", "name": "Kopi", "price": 20000, "quantity": 2]] }

    @Test("create answers order_id and payment_url; get shows the link; a taken order id is 409 and a bad link id 400, in error_messages; a wrong key's message is a string")
    func api() async throws {
        let h = try await Harness.start()
        let created = try await Self.create(h, [
            "transaction_details": ["order_id": "link-1", "gross_amount": 40000, "payment_link_id": "kopi-for-two"],
            "item_details": Self.items, "usage_limit": 3, "title": "Kopi for two", "enabled_payments": ["other_qris", "bca_va"],
        ])
        #expect(created.status == 200 && created.body["order_id"] as? String == "link-1", "\(created.body)")
        #expect(created.body["payment_url"] as? String == h.system.urls[.gateway]! + "/payment-links/kopi-for-two")
        let found = try await h.call(.get, "/v1/payment-links/link-1").body
        #expect(found["usage_limit"] as? Int == 3 && found["gross_amount"] as? Int == 40000 && found["enabled_payments"] as? [String] == ["other_qris", "bca_va"])
        let taken = try await Self.create(h, ["transaction_details": ["order_id": "link-1", "gross_amount": 1000]])
        #expect(taken.status == 409 && taken.body["error_messages"] as? [String] == ["The Order ID 'link-1' has been taken"])
        let badID = try await Self.create(h, ["transaction_details": ["order_id": "link-2", "gross_amount": 1000, "payment_link_id": "Kopi_1"]])
        #expect(badID.status == 400 && (badID.body["error_messages"] as? [String])?.first?.hasPrefix("payment_link_id must only contain") == true)
        let wrongSum = try await Self.create(h, ["transaction_details": ["order_id": "link-3", "gross_amount": 1000], "item_details": Self.items])
        #expect(wrongSum.status == 400)
        let wrongKey = try await Self.create(h, ["transaction_details": ["order_id": "link-4", "gross_amount": 1000]], key: "SB-Mid-server-wrong")
        #expect(wrongKey.status == 401 && wrongKey.body["error_messages"] as? String == "Access denied due to unauthorized request")
        await h.stop()
    }

    @Test("each payment through the page is an order of its own; the usage limit holds; a method not enabled is refused")
    func payments() async throws {
        let h = try await Harness.start()
        let url = try #require(try await Self.create(h, [
            "transaction_details": ["order_id": "link-pay", "gross_amount": 40000], "item_details": Self.items, "usage_limit": 2,
            "enabled_payments": ["other_qris", "bca_va"], "custom_field1": "from a link",
        ]).body["payment_url"] as? String)
        #expect(try await h.system.client.get(url).status == 200)
        #expect(try await Self.pay(h, url, ["payment_type": "gopay"]).status == 400, "gopay is not enabled")
        let first = try await Self.pay(h, url, ["payment_type": "qris"])
        let second = try await Self.pay(h, url, ["payment_type": "bank_transfer", "bank_transfer": ["bank": "bca"]])
        let orders = [first.body["order_id"] as? String, second.body["order_id"] as? String].compactMap { $0 }
        #expect(orders.count == 2 && Set(orders).count == 2 && orders.allSatisfy { $0.hasPrefix("link-pay-") }, "\(first.body) \(second.body)")
        #expect(first.body["custom_field1"] as? String == "from a link" && first.body["gross_amount"] as? String == "40000.00")
        let third = try await Self.pay(h, url, ["payment_type": "qris"])
        #expect(third.status == 410, "the limit of 2 is used up: \(third.body)")
        let link = try await h.call(.get, "/v1/payment-links/link-pay").body
        #expect(link["usage"] as? Int == 2 && (link["purchases"] as? [[String: Any]])?.count == 2)
        await h.stop()
    }

    @Test("the last use, paid for twice at once: one payment gets it, the other is refused (the claim is atomic)")
    func lastUse() async throws {
        let h = try await Harness.start()
        let url = try #require(try await Self.create(h, ["transaction_details": ["order_id": "link-race", "gross_amount": 5000]]).body["payment_url"] as? String)
        // Both payments stopped after seeing the one use left, before either claims it.
        let first = h.system.gateway!.checkpoints.hold(.paymentLinkChecked), second = h.system.gateway!.checkpoints.hold(.paymentLinkChecked)
        async let one = Self.pay(h, url, ["payment_type": "qris"])
        async let two = Self.pay(h, url, ["payment_type": "qris"])
        await first.reached()
        await second.reached()
        first.release()
        second.release()
        let statuses = [try await one.status, try await two.status].sorted()
        #expect(statuses == [200, 410], "\(statuses)")
        #expect(try await h.call(.get, "/v1/payment-links/link-race").body["usage"] as? Int == 1)
        await h.stop()
    }

    @Test("a payment that ends without money gives its use back; a link whose finish URL is not http(s) is refused")
    func usesGivenBack() async throws {
        let h = try await Harness.start()
        let url = try #require(try await Self.create(h, ["transaction_details": ["order_id": "link-back", "gross_amount": 5000]]).body["payment_url"] as? String)
        let first = try await Self.pay(h, url, ["payment_type": "qris"])
        #expect(try await Self.pay(h, url, ["payment_type": "qris"]).status == 410, "the one use is taken while the QR waits")
        #expect(try await h.call(.post, "/v2/\(try #require(first.body["order_id"] as? String))/cancel").status == 200)
        #expect(try await Self.pay(h, url, ["payment_type": "qris"]).status == 200, "the cancelled payment gave its use back")
        let bad = try await Self.create(h, ["transaction_details": ["order_id": "link-js", "gross_amount": 5000], "callbacks": ["finish": "javascript:alert(1)"]])
        #expect(bad.status == 400)
        await h.stop()
    }

    @Test("deleted or expired, the link takes no payments")
    func deletedAndExpired() async throws {
        let clock = ManualClock()
        let h = try await Harness.start { $0.now = { clock.now } }
        let url = try #require(try await Self.create(h, ["transaction_details": ["order_id": "link-del", "gross_amount": 5000]]).body["payment_url"] as? String)
        let deleted = try await h.call(.delete, "/v1/payment-links/link-del")
        #expect(deleted.body["message"] as? String == "Payment Link with Order ID link-del deleted")
        #expect(try await h.system.client.get(url).status == 404)
        #expect(try await h.call(.get, "/v1/payment-links/link-del").status == 404)
        let expiring = try #require(try await Self.create(h, [
            "transaction_details": ["order_id": "link-exp", "gross_amount": 5000], "expiry": ["duration": 30, "unit": "minutes"],
        ]).body["payment_url"] as? String)
        #expect(try await h.system.client.get(expiring).status == 200)
        clock.advance(by: 31 * 60)
        #expect(try await Self.pay(h, expiring, ["payment_type": "qris"]).status == 404)
        await h.stop()
    }
}
}  // extension WholeSystems
