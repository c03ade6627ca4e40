import Foundation
import HTTPParser
import NetLab
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// Snap's options as a merchant sets them when it makes the page: which ways to pay
/// (`enabled_payments`), where the customer goes afterwards (`callbacks.finish`), whether cards
/// go through 3-D Secure (`credit_card.secure`), and what a reused `order_id` gets.
@Suite("Snap options", .serialized, .timeLimit(.minutes(3)))
struct SnapTests {
    typealias Harness = RaceTests.Harness

    static func create(_ h: Harness, _ body: [String: Any]) async throws -> (status: Int, body: [String: Any]) {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/snap/v1/transactions"))
        request.basicAuthorization(user: h.system.options.serverKey)
        request.body = Array(try JSONSerialization.data(withJSONObject: body))
        let response = try await h.system.client.execute(request)
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:])
    }

    static func pay(_ h: Harness, token: String, _ choice: [String: Any]) async throws -> (status: Int, body: [String: Any]) {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/snap/v2/transactions/\(token)/charge"))
        request.body = Array(try JSONSerialization.data(withJSONObject: choice))
        try request.fields.append(name: "Content-Type", value: "application/json")
        let response = try await h.system.client.execute(request)
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:])
    }

    static func order(_ id: String, _ amount: Int = 9000) -> [String: Any] { ["order_id": id, "gross_amount": amount] }

    @Test("enabled_payments: the page lists only those (aliases expanded); a method not enabled is refused in Snap's shape")
    func enabledPayments() async throws {
        let h = try await Harness.start()
        let created = try await Self.create(h, ["transaction_details": Self.order("snap-enabled"), "enabled_payments": ["bca_va", "cstore", "ovo"]])
        let token = try #require(created.body["token"] as? String, "an unknown name (ovo) is left out, not refused: \(created.body)")
        let page = String(decoding: try await h.system.client.get(try #require(created.body["redirect_url"] as? String)).body, as: UTF8.self)
        #expect(page.contains(#"data-methods="bca_va,indomaret,alfamart""#), "the page's script offers these, and no others")
        let refused = try await Self.pay(h, token: token, ["payment_type": "gopay"])
        #expect(refused.status == 400 && (refused.body["error_messages"] as? [String])?.first?.hasPrefix("payment_type is not enabled") == true,
                "\(refused.body)")
        let bni = try await Self.pay(h, token: token, ["payment_type": "bank_transfer", "bank_transfer": ["bank": "bni"]])
        #expect(bni.status == 400, "bni_va was not enabled")
        let paid = try await Self.pay(h, token: token, ["payment_type": "cstore", "cstore": ["store": "alfamart"]])
        #expect(paid.status == 200 && paid.body["payment_code"] != nil, "\(paid.body)")
        #expect(try await Self.create(h, ["transaction_details": Self.order("snap-none"), "enabled_payments": ["ovo"]]).status == 400)
        await h.stop()
    }

    @Test("the page: a Content-Security-Policy with no inline script; what the merchant sent is escaped; one payment per page (406 after)")
    func page() async throws {
        let h = try await Harness.start()
        let created = try await Self.create(h, [
            "transaction_details": Self.order("snap-page"), "item_details": [["id": "x", "name": "<script>alert(1)</script>", "price": 9000, "quantity": 1]],
        ])
        let token = try #require(created.body["token"] as? String)
        let page = try await h.system.client.get(try #require(created.body["redirect_url"] as? String) + "?origin=https://shop.example")
        let html = String(decoding: page.body, as: UTF8.self)
        let policy = try #require(page.fields["Content-Security-Policy"])
        #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline") && policy.contains("frame-ancestors https://shop.example"),
                "only the page that opened it may frame it: \(policy)")
        #expect(!html.contains("<script>alert(1)") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains(#"data-parent="https://shop.example""#))
        let sneaky = try await h.system.client.get(try #require(created.body["redirect_url"] as? String) + "?origin=javascript:alert(1)")
        #expect(String(decoding: sneaky.body, as: UTF8.self).contains(#"data-parent="""#), "an origin that is not http(s) is dropped")
        #expect(sneaky.fields["Content-Security-Policy"]?.contains("frame-ancestors 'none'") == true, "a page nobody opened may not be framed")
        #expect(try await Self.pay(h, token: token, ["payment_type": "qris"]).status == 200)
        let again = try await Self.pay(h, token: token, ["payment_type": "qris"])
        #expect(again.status == 406 && again.body["error_messages"] as? [String] == ["transaction has been processed"])
        let status = try await h.system.client.get(h.system.urls[.gateway]! + "/snap/v2/transactions/\(token)/status")
        let fields = try JSONSerialization.jsonObject(with: Data(status.body)) as? [String: Any]
        #expect(fields?["transaction_status"] as? String == "pending" && fields?["signature_key"] == nil, "\(fields ?? [:])")
        #expect(try await h.system.client.get(h.system.urls[.gateway]! + "/snap/snap.js").fields["Content-Type"]?.hasPrefix("application/javascript") == true)
        await h.stop()
    }

    @Test("a page past its time says expired (and takes no payment); an unknown page says gone; the script must send JSON from the page's own site")
    func pageStates() async throws {
        let clock = ManualClock()
        let h = try await Harness.start { $0.now = { clock.now } }
        let created = try await Self.create(h, ["transaction_details": Self.order("snap-late"), "expiry": ["duration": 1, "unit": "minute"]])
        let token = try #require(created.body["token"] as? String)
        let url = try #require(created.body["redirect_url"] as? String)
        #expect(String(decoding: try await h.system.client.get(url).body, as: UTF8.self).contains(#"data-state="open""#))
        clock.advance(by: 120)
        let late = try await h.system.client.get(url)
        #expect(late.status == 200 && String(decoding: late.body, as: UTF8.self).contains(#"data-state="expired""#))
        #expect(try await Self.pay(h, token: token, ["payment_type": "qris"]).status == 404, "no payment after its time")
        let gone = try await h.system.client.get(h.system.urls[.gateway]! + "/snap/v2/vtweb/no-such-token")
        #expect(gone.status == 404 && String(decoding: gone.body, as: UTF8.self).contains(#"data-state="gone""#))
        let fresh = try #require(try await Self.create(h, ["transaction_details": Self.order("snap-form")]).body["token"] as? String)
        var form = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/snap/v2/transactions/\(fresh)/charge"))
        form.body = Array(#"{"payment_type":"qris"}"#.utf8)
        try form.fields.append(name: "Content-Type", value: "text/plain")
        #expect(try await h.system.client.execute(form).status == 415, "a text/plain form (which a cross-site page can send) is refused")
        var crossSite = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/snap/v2/transactions/\(fresh)/charge"))
        crossSite.body = Array(#"{"payment_type":"qris"}"#.utf8)
        try crossSite.fields.append(name: "Content-Type", value: "application/json")
        try crossSite.fields.append(name: "Origin", value: "https://evil.example")
        #expect(try await h.system.client.execute(crossSite).status == 403)
        await h.stop()
    }

    @Test("callbacks.finish: the page's charge answers finish_redirect_url with the order, status code and status")
    func finish() async throws {
        let h = try await Harness.start()
        let created = try await Self.create(h, ["transaction_details": Self.order("snap-finish"), "callbacks": ["finish": "https://shop.example/done?from=snap"]])
        let paid = try await Self.pay(h, token: try #require(created.body["token"] as? String), ["payment_type": "qris"])
        #expect(paid.body["finish_redirect_url"] as? String == "https://shop.example/done?from=snap&order_id=snap-finish&status_code=201&transaction_status=pending")
        #expect(try await Self.create(h, ["transaction_details": Self.order("snap-bad"), "callbacks": ["finish": "javascript:alert(1)"]]).status == 400)
        // Without callbacks.finish: the merchant's own Finish URL (the dashboard's Snap preference).
        let fallback = try await Self.create(h, ["transaction_details": Self.order("snap-fallback")])
        let paid2 = try await Self.pay(h, token: try #require(fallback.body["token"] as? String), ["payment_type": "qris"])
        #expect((paid2.body["finish_redirect_url"] as? String)?.hasPrefix(h.system.urls[.merchant]! + "/?order_id=snap-fallback") == true, "\(paid2.body)")
        await h.stop()
    }

    @Test("credit_card.secure decides 3-D Secure for the page's card payments, whatever the page sends", arguments: [true, false])
    func secure(_ secure: Bool) async throws {
        let h = try await Harness.start()
        let created = try await Self.create(h, ["transaction_details": Self.order("snap-secure"), "credit_card": ["secure": secure]])
        let card = try await h.system.customer().tokenize(Customer.Card(number: "4811111111111114"))
        let paid = try await Self.pay(h, token: try #require(created.body["token"] as? String), [
            "payment_type": "credit_card", "credit_card": ["token_id": card, "authentication": !secure],
        ])
        #expect(paid.body["transaction_status"] as? String == (secure ? "pending" : "capture"), "\(paid.body)")
        #expect((paid.body["redirect_url"] != nil) == secure)
        await h.stop()
    }

    @Test("a reused order_id: an unpaid order gets a new page (the old one is gone); once charged, 400 has already been taken")
    func reusedOrderID() async throws {
        let h = try await Harness.start()
        let first = try #require(try await Self.create(h, ["transaction_details": Self.order("snap-again")]).body["token"] as? String)
        let second = try #require(try await Self.create(h, ["transaction_details": Self.order("snap-again")]).body["token"] as? String)
        #expect(first != second)
        #expect(try await Self.pay(h, token: first, ["payment_type": "qris"]).status == 404, "the new page replaced the old")
        #expect(try await Self.pay(h, token: second, ["payment_type": "qris"]).status == 200)
        let third = try await Self.create(h, ["transaction_details": Self.order("snap-again")])
        #expect(third.status == 400 && third.body["error_messages"] as? [String] == ["transaction_details.order_id has already been taken"])
        // Cancelled, the order may be paid again (as the Core API's 406 rule says).
        #expect(try await h.call(.post, "/v2/snap-again/cancel").status == 200)
        #expect(try await Self.create(h, ["transaction_details": Self.order("snap-again")]).status == 201)
        await h.stop()
    }
}
}  // extension WholeSystems
