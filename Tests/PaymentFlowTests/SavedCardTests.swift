import Foundation
import HTTPParser
import NetLab
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// Saved cards as Midtrans' merchants use them: `GET /v2/card/register`, one-click charges with
/// the `saved_token_id`, `save_token_id` on a charge, two-click tokens, BNI point inquiry,
/// `bins` and `installment_term` — and the card kept sealed.
@Suite("Saved cards and card options", .serialized, .timeLimit(.minutes(3)))
struct SavedCardTests {
    typealias Harness = RaceTests.Harness

    static func register(_ h: Harness, _ number: String = "4811111111111114", key: String? = nil) async throws -> (status: Int, body: [String: Any]) {
        let query = "client_key=\(key ?? h.system.options.clientKey)&card_number=\(number)&card_exp_month=12&card_exp_year=2099"
        let response = try await h.system.client.get(h.system.urls[.gateway]! + "/v2/card/register?" + query)
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:])
    }

    static func charge(_ h: Harness, token: String, order: String, card: [String: Any] = [:]) async throws -> (status: Int, body: [String: Any], replayed: Bool) {
        try await h.call(.post, "/v2/charge", [
            "payment_type": "credit_card", "transaction_details": ["order_id": order, "gross_amount": 20000],
            "credit_card": card.merging(["token_id": token]) { $1 },
        ])
    }

    @Test("card register answers a saved_token_id; a one-click charge with it is captured without CVV or OTP; the bank holds the money")
    func oneClick() async throws {
        let h = try await Harness.start()
        let registered = try await Self.register(h)
        #expect(registered.status == 200 && registered.body["masked_card"] as? String == "48111111-1114", "\(registered.body)")
        let saved = try #require(registered.body["saved_token_id"] as? String)
        #expect(saved.count == 32 && saved.hasPrefix("48111111") && saved.hasSuffix("1114"), "Midtrans' shape: first 8, 20 random, last 4")
        let charged = try await Self.charge(h, token: saved, order: "one-click-1")
        #expect(charged.body["status_code"] as? String == "200" && charged.body["transaction_status"] as? String == "capture", "\(charged.body)")
        #expect(charged.body["channel_response_code"] as? String == "00" && charged.body["channel_response_message"] as? String == "Approved")
        #expect(try h.held("one-click-1") == Rupiah(20000))
        // A saved token is used again and again (a single-use token would now be 411).
        #expect(try await Self.charge(h, token: saved, order: "one-click-2").body["transaction_status"] as? String == "capture")
        await h.stop()
    }

    @Test("save_token_id on a 3-D Secure charge: the saved token appears once the card is approved; two-click makes a fresh token with the CVV")
    func saveOnCharge() async throws {
        let h = try await Harness.start()
        let token = try await h.system.customer().tokenize(Customer.Card(number: "4811111111111114"))
        let pending = try await Self.charge(h, token: token, order: "save-1", card: ["authentication": true, "save_token_id": true])
        #expect(pending.body["status_code"] as? String == "201" && pending.body["saved_token_id"] == nil, "not before the bank approves: \(pending.body)")
        try await h.system.customer().authenticate(redirect: try #require(pending.body["redirect_url"] as? String), otp: SandboxCards.otp)
        let status = try await h.call(.get, "/v2/save-1/status").body
        let saved = try #require(status["saved_token_id"] as? String, "\(status)")
        let expiryYear = Customer.Card(number: "4811111111111114").expiryYear
        #expect(status["saved_token_id_expired_at"] as? String == "\(expiryYear)-12-31 23:59:59", "the card's last second, UTC+7")
        #expect(status["three_ds_version"] as? String == "2")
        let base = h.system.urls[.gateway]! + "/v2/token?client_key=\(h.system.options.clientKey)&token_id=\(saved)"
        #expect(try await h.system.client.get(base).status == 400, "two-click needs the CVV")
        let fresh = try JSONSerialization.jsonObject(with: Data(try await h.system.client.get(base + "&card_cvv=123").body)) as? [String: Any]
        let twoClick = try #require(fresh?["token_id"] as? String)
        #expect(twoClick.hasPrefix("48111111-1114-"))
        let charged = try await Self.charge(h, token: twoClick, order: "save-2")
        #expect(charged.body["transaction_status"] as? String == "capture", "\(charged.body)")
        await h.stop()
    }

    @Test("a declined card's charge shows no saved token; another merchant cannot use a saved token (411)")
    func refusals() async throws {
        let h = try await Harness.start()
        // Added before any call: the gateway's merchant cache reloads on a miss at most ten times a second.
        try h.system.store!.saveMerchant(MerchantAccount(merchantID: "G-OTHER", serverKey: "SB-Mid-server-other", clientKey: "SB-Mid-client-other"))
        let token = try await h.system.customer().tokenize(Customer.Card(number: "4711111111111115"))
        let denied = try await Self.charge(h, token: token, order: "save-denied", card: ["save_token_id": true])
        #expect(denied.body["transaction_status"] as? String == "deny" && denied.body["saved_token_id"] == nil, "\(denied.body)")
        #expect(denied.body["channel_response_code"] as? String == "05")
        let saved = try #require(try await Self.register(h).body["saved_token_id"] as? String)
        let other = try await h.call(.post, "/v2/charge", [
            "payment_type": "credit_card", "transaction_details": ["order_id": "theft", "gross_amount": 20000], "credit_card": ["token_id": saved],
        ], key: "SB-Mid-server-other")
        #expect(other.status == 411, "\(other.body)")
        #expect(try await Self.register(h, key: "SB-Mid-client-nobody").status == 401)
        #expect(try await Self.register(h, "4811111111111115").status == 400, "Luhn")
        await h.stop()
    }

    @Test("expiries that are no date are refused with the rule named, never a crash; a payment page cannot spend a saved card")
    func refusedInputs() async throws {
        let h = try await Harness.start()
        let base = h.system.urls[.gateway]! + "/v2/card/register?client_key=\(h.system.options.clientKey)&card_number=4811111111111114"
        for (month, year) in [("12", "9223372036854775807"), ("13", "2030"), ("00", "2030"), ("12", "203")] {
            let answer = try await h.system.client.get(base + "&card_exp_month=\(month)&card_exp_year=\(year)")
            #expect(answer.status == 400, "\(month)/\(year)")
        }
        let token = h.system.urls[.gateway]! + "/v2/token?client_key=\(h.system.options.clientKey)&card_number=4811111111111114&card_cvv=123"
        #expect(try await h.system.client.get(token + "&card_exp_month=12&card_exp_year=99999999999999999999").status == 400)
        // A Snap page's charge with a saved token: refused (only the merchant's server may charge a card on file).
        let saved = try #require(try await Self.register(h).body["saved_token_id"] as? String)
        let created = try await SnapTests.create(h, ["transaction_details": ["order_id": "page-saved", "gross_amount": 5000]])
        let paid = try await SnapTests.pay(h, token: try #require(created.body["token"] as? String), ["payment_type": "credit_card", "credit_card": ["token_id": saved]])
        #expect(paid.status == 411, "\(paid.body)")
        await h.stop()
    }

    @Test("the saved card is sealed in the store (no card number in the file) under a 0600 key; it survives a restart")
    func sealedAndDurable() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-saved-\(UUID().uuidString)").path
        var options = PaymentSystemOptions(stateDirectory: directory)
        options.pollInterval = .milliseconds(25)
        let first = try await PaymentSystem.start(options)
        let saved = try #require(try await Self.register(Harness(system: first)).body["saved_token_id"] as? String)
        await first.shutdown()
        let file = try Data(contentsOf: URL(fileURLWithPath: directory + "/gateway.sqlite"))
        let wal = (try? Data(contentsOf: URL(fileURLWithPath: directory + "/gateway.sqlite-wal"))) ?? Data()
        #expect(file.range(of: Data("4811111111111114".utf8)) == nil && wal.range(of: Data("4811111111111114".utf8)) == nil)
        let permissions = try FileManager.default.attributesOfItem(atPath: directory + "/vault.key")[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        let second = try await PaymentSystem.start(options)
        let charged = try await Self.charge(Harness(system: second), token: saved, order: "after-restart")
        #expect(charged.body["transaction_status"] as? String == "capture", "\(charged.body)")
        await second.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test("point inquiry: a BNI reward card's balance from its bank; a card without points is 402; an unknown token 411")
    func points() async throws {
        let h = try await Harness.start()
        let token = try await h.system.customer().tokenize(Customer.Card(number: "4811111111111114"))
        let answer = try await h.call(.get, "/v2/point_inquiry/\(token)")
        #expect(answer.body["status_code"] as? String == "200" && answer.body["point_balance_amount"] as? String == "15000.00", "\(answer.body)")
        #expect(answer.body["status_message"] as? String == "Success, Credit Card Point inquiry is successful")
        #expect(try await Self.charge(h, token: token, order: "after-points").body["transaction_status"] as? String == "capture",
                "the inquiry does not use the token up")
        let none = try await h.system.customer().tokenize(Customer.Card(number: "5264221038874659"))
        #expect(try await h.call(.get, "/v2/point_inquiry/\(none)").status == 402)
        #expect(try await h.call(.get, "/v2/point_inquiry/nope").status == 411)
        await h.stop()
    }

    @Test("bins admits only the listed prefixes or banks; installment_term is echoed", arguments: [
        (["5"], false), (["48111111"], true), (["bni"], true), (["bca", "52"], false),
    ])
    func bins(_ bins: [String], accepted: Bool) async throws {
        let h = try await Harness.start()
        let token = try await h.system.customer().tokenize(Customer.Card(number: "4811111111111114"))
        let answer = try await Self.charge(h, token: token, order: "bins", card: ["bins": bins, "installment_term": 6])
        if accepted {
            #expect(answer.body["transaction_status"] as? String == "capture" && answer.body["installment_term"] as? String == "6", "\(answer.body)")
        } else {
            #expect(answer.status == 400 && (answer.body["validation_messages"] as? [String]) == ["credit_card.bins does not include this card"])
        }
        await h.stop()
    }
}
}  // extension WholeSystems
