import Foundation
import HTTPParser
import NetLab
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// Parts of Midtrans' Core API beyond the basic charge, as a merchant's code written for the
/// sandbox uses them: request validation, echoed fields, pre-authorisation and capture, the
/// status answers, JSONP tokens and the BIN lookup.
@Suite("Midtrans' Core API surface", .serialized, .timeLimit(.minutes(3)))
struct MidtransSurfaceTests {
    typealias Harness = RaceTests.Harness

    @Test("credit_card.authentication decides 3-D Secure: without it a card is charged at once; with it an enrolled card waits for the OTP, one not enrolled is an attempted authentication")
    func authentication() async throws {
        let h = try await Harness.start()
        func charge(_ number: String, order: String, authentication: Bool) async throws -> [String: Any] {
            let token = try await h.system.customer().tokenize(Customer.Card(number: number))
            return try await h.call(.post, "/v2/charge", [
                "payment_type": "credit_card", "transaction_details": ["order_id": order, "gross_amount": 10000],
                "credit_card": ["token_id": token, "authentication": authentication],
            ]).body
        }
        let direct = try await charge("4811111111111114", order: "auth-1", authentication: false)
        #expect(direct["status_code"] as? String == "200" && direct["transaction_status"] as? String == "capture" && direct["eci"] as? String == "07")
        let full = try await charge("4811111111111114", order: "auth-2", authentication: true)
        #expect(full["status_code"] as? String == "201" && full["transaction_status"] as? String == "pending" && full["redirect_url"] != nil)
        try await h.system.customer().authenticate(redirect: try #require(full["redirect_url"] as? String), otp: SandboxCards.otp)
        #expect(try await h.call(.get, "/v2/auth-2/status").body["eci"] as? String == "05", "the holder authenticated")
        let attempted = try await charge("4411111111111118", order: "auth-3", authentication: true)
        #expect(attempted["transaction_status"] as? String == "capture" && attempted["eci"] as? String == "06", "\(attempted)")
        await h.stop()
    }

    @Test("the sandbox page's card table: bank-specific cards, response codes 05, 51 (by amount) and 57, debit cards", arguments: [
        ("4773776057051650", 20000, "capture", "00", "credit"),  // BCA, 3-D Secure ready, charged without it
        ("4617001741942101", 20000, "capture", "00", "credit"),  // Mandiri, attempted authentication
        ("4097661111111139", 20000, "capture", "00", "debit"),   // Mandiri Debit
        ("4365028662512583", 20000, "deny", "05", "credit"),     // BRI's declined card
        ("4472429869996670", 1000, "deny", "51", "credit"),      // insufficient funds, any amount
        ("4806000000000081", 30000, "capture", "00", "credit"),  // insufficient funds above Rp 30.000 only
        ("4806000000000081", 30001, "deny", "51", "credit"),
        ("5597518926561951", 20000, "deny", "57", "credit"),     // offline-only card
    ])
    func cardTable(number: String, amount: Int, status: String, code: String, cardType: String) async throws {
        let h = try await Harness.start()
        let token = try await h.system.customer().tokenize(Customer.Card(number: number))
        let answer = try await h.call(.post, "/v2/charge", [
            "payment_type": "credit_card", "transaction_details": ["order_id": "table-\(number)-\(amount)", "gross_amount": amount],
            "credit_card": ["token_id": token],
        ]).body
        #expect(answer["transaction_status"] as? String == status && answer["channel_response_code"] as? String == code, "\(answer)")
        #expect(answer["card_type"] as? String == cardType)
        await h.stop()
    }

    @Test("bank-specific cards: the BIN lookup names the issuer, and bins admits a card by its bank's name")
    func issuers() async throws {
        let h = try await Harness.start()
        let found = try #require(try await h.call(.get, "/v1/bins/47737760").body["data"] as? [String: Any])
        #expect(found["bank_code"] as? String == "BCA" && found["bank"] as? String == "BANK CENTRAL ASIA")
        #expect((try await h.call(.get, "/v1/bins/40976611").body["data"] as? [String: Any])?["bin_type"] as? String == "DEBIT")
        func charge(_ number: String, bins: [String]) async throws -> Int {
            let token = try await h.system.customer().tokenize(Customer.Card(number: number))
            return try await h.call(.post, "/v2/charge", [
                "payment_type": "credit_card", "transaction_details": ["order_id": "bins-\(UUID().uuidString.prefix(8))", "gross_amount": 10000],
                "credit_card": ["token_id": token, "bins": bins],
            ]).status
        }
        #expect(try await charge("4773776057051650", bins: ["bca"]) == 200)
        #expect(try await charge("4773776057051650", bins: ["bni", "mandiri"]) == 400)
        await h.stop()
    }

    @Test("custom_field1..3 and metadata are echoed in the answer, the status and the webhook")
    func echoedFields() async throws {
        let h = try await Harness.start()
        let answer = try await h.call(.post, "/v2/charge", [
            "payment_type": "qris", "transaction_details": ["order_id": "echo-1", "gross_amount": 5000],
            "custom_field1": "shelf 7", "custom_field2": "[not json]", "metadata": ["cart": ["kopi", "batik"], "campaign": 12],
        ])
        #expect(answer.status == 200 && answer.body["custom_field1"] as? String == "shelf 7")
        #expect(answer.body["custom_field2"] as? String == "[not json]", "a custom field is a string, whatever it looks like")
        let status = try await h.call(.get, "/v2/echo-1/status")
        let metadata = try #require(status.body["metadata"] as? [String: Any])
        #expect(metadata["cart"] as? [String] == ["kopi", "batik"] && metadata["campaign"] as? Int == 12)
        let webhook = try #require(try h.system.store!.notifications(merchantID: h.merchantID, orderID: "echo-1").first)
        #expect(String(decoding: webhook.body, as: UTF8.self).contains(#""custom_field1":"shelf 7""#))
        await h.stop()
    }

    @Test("validation like Midtrans: item_details must add up; e-mail and phone formats; custom fields and metadata typed", arguments: [
        (#"{"item_details": [{"id": "a", "price": 4000, "quantity": 1, "name": "A"}]}"#, "transaction_details.gross_amount is not equal to the sum of item_details"),
        (#"{"customer_details": {"email": "not-an-address"}}"#, "customer_details.email format is invalid"),
        (#"{"customer_details": {"phone": "call me"}}"#, "customer_details.phone format is invalid"),
        (#"{"custom_field3": 7}"#, "custom_field3 must be a string of at most 255 characters"),
        (#"{"metadata": "text"}"#, "metadata must be a JSON object of at most 1024 bytes"),
        (#"{"payment_type": "echannel", "echannel": {"bill_info1": "Payment for"}}"#, "echannel.bill_info2 is required"),
        (#"{"payment_type": "bank_transfer"}"#, "bank_transfer.bank is required"),
        (#"{"transaction_details": {"order_id": "x", "gross_amount": true}}"#, "transaction_details.gross_amount must be a whole number greater than 0"),
        (#"{"transaction_details": {"order_id": "x", "gross_amount": "0010000"}}"#, "transaction_details.gross_amount must be a whole number greater than 0"),
        (#"{"payment_type": "bank_transfer", "bank_transfer": [1, 2]}"#, "bank_transfer.bank is required"),
        (#"{"custom_expiry": {"expiry_duration": 2, "unit": "week"}}"#, "custom_expiry.unit must be second, minute, hour or day"),
        (#"{"custom_expiry": {"expiry_duration": 0, "unit": "hour"}}"#, "custom_expiry.expiry_duration must be a whole number greater than 0"),
        (#"{"custom_expiry": {"order_time": "06/12/2026 10:00", "expiry_duration": 2, "unit": "hour"}}"#, "custom_expiry.order_time must be like 2026-12-06 10:00:00 +0700"),
        (#"{"payment_type": "bank_transfer", "bank_transfer": {"bank": "mandiri"}}"#, "bank_transfer.bank is not supported: use bca, bni, bri, permata or cimb"),
    ])
    func validation(extraJSON: String, message: String) async throws {
        let extra = try #require(try JSONSerialization.jsonObject(with: Data(extraJSON.utf8)) as? [String: Any])
        let h = try await Harness.start()
        var body: [String: Any] = ["payment_type": "qris", "transaction_details": ["order_id": "valid-1", "gross_amount": 5000]]
        for (name, value) in extra { body[name] = value }
        let answer = try await h.call(.post, "/v2/charge", body)
        #expect(answer.status == 400 && (answer.body["validation_messages"] as? [String])?.contains(message) == true, "\(answer.body)")
        #expect(try h.transaction("valid-1") == nil, "nothing is reserved for a request that breaks a rule")
        let items: [[String: Any]] = [["id": "a", "price": 2000, "quantity": 2, "name": "A"], ["id": "b", "price": 1000, "quantity": 1, "name": "B"]]
        body = ["payment_type": "qris", "transaction_details": ["order_id": "valid-2", "gross_amount": 5000], "item_details": items,
                "customer_details": ["email": "siti@example.co.id", "phone": "+62 812-3456-7890"]]
        #expect(try await h.call(.post, "/v2/charge", body).status == 200)
        let cimb = try await h.call(.post, "/v2/charge", ["payment_type": "bank_transfer", "transaction_details": ["order_id": "valid-3", "gross_amount": 5000],
                                                         "bank_transfer": ["bank": "cimb"]])
        #expect((cimb.body["va_numbers"] as? [[String: Any]])?.first?["bank"] as? String == "cimb", "\(cimb.body)")
        await h.stop()
    }

    @Test("pre-authorisation: type authorize holds the money (authorize); capture takes it; a second capture is 412; cancel releases a hold")
    func authorizeAndCapture() async throws {
        let h = try await Harness.start()
        func authorize(_ order: String) async throws -> [String: Any] {
            let token = try await h.system.customer().tokenize(Customer.Card(number: "4411111111111118"))
            return try await h.call(.post, "/v2/charge", [
                "payment_type": "credit_card", "transaction_details": ["order_id": order, "gross_amount": 30000],
                "credit_card": ["token_id": token, "type": "authorize"],
            ]).body
        }
        let held = try await authorize("preauth-1")
        #expect(held["transaction_status"] as? String == "authorize" && held["status_code"] as? String == "200", "\(held)")
        #expect(try h.held("preauth-1") == Rupiah(30000), "the bank holds the money")
        let id = try #require(held["transaction_id"] as? String)
        #expect(try await h.call(.post, "/v2/capture", ["transaction_id": id, "gross_amount": 1000]).status == 400, "no partial capture")
        let captured = try await h.call(.post, "/v2/capture", ["transaction_id": id, "gross_amount": 30000])
        #expect(captured.status == 200 && captured.body["transaction_status"] as? String == "capture", "\(captured.body)")
        #expect(try await h.call(.post, "/v2/capture", ["transaction_id": id]).status == 412)
        #expect(try h.notified("preauth-1") == ["authorize", "capture"])
        _ = try await authorize("preauth-2")
        #expect(try await h.call(.post, "/v2/preauth-2/cancel").status == 200)
        #expect(try h.held("preauth-2") == Rupiah(0), "a cancelled hold is released at the bank")
        await h.stop()
    }

    @Test("status answers: a cancelled card is 200; deny says denied; status/b2b lists every transaction of an order, latest first, by page")
    func statusAnswers() async throws {
        let h = try await Harness.start()
        _ = try await h.cardCharge("4411111111111118", order: "status-1")
        #expect(try await h.call(.post, "/v2/status-1/cancel").status == 200)
        let cancelled = try await h.call(.get, "/v2/status-1/status")
        #expect(cancelled.body["status_code"] as? String == "200" && cancelled.body["transaction_status"] as? String == "cancel")
        _ = try await h.cardCharge("4511111111111117", order: "status-2")
        let denied = try await h.call(.post, "/v2/status-2/deny")
        #expect(denied.status == 200 && denied.body["status_message"] as? String == "Success, transaction is denied")
        // The order id of a cancelled charge is charged again: two transactions under it.
        let again = try await h.cardCharge("4411111111111118", order: "status-1")
        let b2b = try await h.call(.get, "/v2/status-1/status/b2b")
        let listed = try #require(b2b.body["transactions"] as? [[String: Any]])
        #expect(b2b.body["status_message"] as? String == "Success, transactions are retrieved")
        #expect(listed.map { $0["transaction_id"] as? String } == [again.body["transaction_id"] as? String, cancelled.body["transaction_id"] as? String])
        let second = try await h.call(.get, "/v2/status-1/status/b2b?page=1&per_page=1")
        #expect((second.body["transactions"] as? [[String: Any]])?.first?["transaction_status"] as? String == "cancel")
        await h.stop()
    }

    @Test("Snap: the page's charge takes the order from the session — details, items, custom fields, notification targets — and the page cannot change it")
    func snapSession() async throws {
        let h = try await Harness.start()
        var create = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/snap/v1/transactions"))
        create.basicAuthorization(user: h.system.options.serverKey)
        try create.fields.append(name: "X-Override-Notification", value: h.system.urls[.merchant]! + "/elsewhere")
        create.body = Array(try JSONSerialization.data(withJSONObject: [
            "transaction_details": ["order_id": "snap-1", "gross_amount": 7000], "custom_field1": "from snap",
            "item_details": [["id": "k", "price": 7000, "quantity": 1, "name": "Kopi"]],
        ]))
        let created = try await h.system.client.execute(create)
        let token = try #require((try JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any])?["token"] as? String)
        var pay = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/snap/v2/transactions/\(token)/charge"))
        try pay.fields.append(name: "Content-Type", value: "application/json")
        pay.body = Array(#"{"payment_type":"qris","transaction_details":{"order_id":"snap-1","gross_amount":1}}"#.utf8)
        #expect(try await h.system.client.execute(pay).status == 200)
        let stored = try #require(try h.transaction("snap-1"))
        #expect(stored.state.grossAmount == Rupiah(7000), "the page cannot change the amount")
        #expect(stored.extra["custom_field1"] == "from snap")
        #expect(try h.system.store!.notifications(merchantID: h.merchantID, orderID: "snap-1").first?.url.hasSuffix("/elsewhere") == true)
        await h.stop()
    }

    @Test("custom_expiry (Core) and expiry (Snap) decide when a waiting payment expires")
    func expiries() async throws {
        let h = try await Harness.start()
        let core = try await h.call(.post, "/v2/charge", [
            "payment_type": "bank_transfer", "transaction_details": ["order_id": "expiry-1", "gross_amount": 5000], "bank_transfer": ["bank": "bni"],
            "custom_expiry": ["order_time": "2026-12-06 10:00:00 +0700", "expiry_duration": 90, "unit": "minute"],
        ])
        #expect(core.body["expiry_time"] as? String == "2026-12-06 11:30:00", "\(core.body)")
        let utc = try await h.call(.post, "/v2/charge", [
            "payment_type": "qris", "transaction_details": ["order_id": "expiry-2", "gross_amount": 5000],
            "custom_expiry": ["order_time": "2026-12-06 03:00:00 +0000", "expiry_duration": 1, "unit": "day"],
        ])
        #expect(utc.body["expiry_time"] as? String == "2026-12-07 10:00:00", "times are written in UTC+7")
        var create = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/snap/v1/transactions"))
        create.basicAuthorization(user: h.system.options.serverKey)
        create.body = Array(#"{"transaction_details":{"order_id":"expiry-3","gross_amount":5000},"expiry":{"start_time":"2099-01-01 10:00:00 +0700","unit":"minutes","duration":30}}"#.utf8)
        let token = try #require((try JSONSerialization.jsonObject(with: Data(try await h.system.client.execute(create).body)) as? [String: Any])?["token"] as? String)
        var pay = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/snap/v2/transactions/\(token)/charge"))
        try pay.fields.append(name: "Content-Type", value: "application/json")
        pay.body = Array(#"{"payment_type":"qris","custom_expiry":{"expiry_duration":9,"unit":"day"}}"#.utf8)
        let snap = try JSONSerialization.jsonObject(with: Data(try await h.system.client.execute(pay).body)) as? [String: Any]
        #expect(snap?["expiry_time"] as? String == "2099-01-01 10:30:00", "Snap's expiry, not the page's: \(snap ?? [:])")
        await h.stop()
    }

    @Test("GET /v2/token answers JSONP when given a callback (errors too); a callback that is not a name is refused")
    func jsonpToken() async throws {
        let h = try await Harness.start()
        let base = h.system.urls[.gateway]! + "/v2/token?client_key=\(h.system.options.clientKey)"
        let card = "&card_number=4811111111111114&card_exp_month=12&card_exp_year=2099&card_cvv=123"
        let answer = try await h.system.client.get(base + card + "&callback=Veritrans.c_1")
        #expect(answer.status == 200 && answer.fields["Content-Type"]?.hasPrefix("application/javascript") == true)
        let text = String(decoding: answer.body, as: UTF8.self)
        #expect(text.hasPrefix("/**/Veritrans.c_1({") && text.hasSuffix("});") && text.contains(#""token_id":"48111111-1114-"#), "\(text)")
        let failed = String(decoding: try await h.system.client.get(base + "&card_number=4811111111111115&callback=cb").body, as: UTF8.self)
        #expect(failed.hasPrefix("/**/cb({") && failed.contains(#""status_code":"400""#), "\(failed)")
        #expect(try await h.system.client.get(base + card + "&callback=alert(1)").status == 400)
        #expect(try await h.system.client.get(base + card).fields["Content-Type"] == "application/json")
        await h.stop()
    }

    @Test("BIN lookup: a sandbox card's first digits name its brand; unknown digits are 404; a wrong key is 401")
    func bins() async throws {
        let h = try await Harness.start()
        let found = try await h.call(.get, "/v1/bins/52642210", key: h.system.options.clientKey)
        let data = try #require(found.body["data"] as? [String: Any])
        #expect(found.status == 200 && data["brand"] as? String == "MASTERCARD" && data["bin"] as? String == "52642210")
        #expect(try await h.call(.get, "/v1/bins/999999").status == 404)
        #expect(try await h.call(.get, "/v1/bins/48x111").status == 400)
        #expect(try await h.call(.get, "/v1/bins/481111", key: "SB-Mid-client-wrong").status == 401)
        await h.stop()
    }
}
}  // extension WholeSystems
