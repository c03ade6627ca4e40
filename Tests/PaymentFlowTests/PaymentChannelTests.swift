import Foundation
import HTTPParser
import NetLab
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// Every payment channel of Midtrans' Core API, end to end: the charge's answer carries the
/// channel's own fields, the bank opened the account the customer pays into, paying it settles
/// the transaction at the gateway and pays the order at the merchant.
@Suite("Payment channels", .serialized, .timeLimit(.minutes(3)))
struct PaymentChannelTests {
    typealias Harness = RaceTests.Harness

    /// One channel: the charge's channel object, Midtrans' message, and where the answer shows
    /// the number the customer pays with.
    struct Vector: Sendable, CustomTestStringConvertible {
        var type: String
        var object: [String: String] = [:]
        var message: String
        var number: @Sendable ([String: Any]) -> String?
        var testDescription: String { object.isEmpty ? type : "\(type) \(object.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))" }
    }

    static let vectors: [Vector] = [
        Vector(type: "bank_transfer", object: ["bank": "bca", "va_number": "12345678901"], message: "Success, Bank Transfer transaction is created",
               number: { ($0["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String }),
        Vector(type: "bank_transfer", object: ["bank": "permata", "va_number": "8562000123"], message: "Success, PERMATA VA transaction is successful",
               number: { $0["permata_va_number"] as? String }),
        Vector(type: "bank_transfer", object: ["bank": "cimb"], message: "Success, Bank Transfer transaction is created",
               number: { ($0["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String }),
        Vector(type: "shopeepay", message: "ShopeePay transaction is created", number: { deeplinkAccount($0) }),
        Vector(type: "gopay", message: "GoPay transaction is created", number: { qrAccount($0) }),
        Vector(type: "qris", object: ["acquirer": "airpay shopee"], message: "QRIS transaction is created", number: { qrAccount($0) }),
        Vector(type: "cstore", object: ["store": "indomaret", "message": "Bayar di kasir"], message: "Success, cstore transaction is successful",
               number: { $0["payment_code"] as? String }),
        Vector(type: "cstore", object: ["store": "alfamart"], message: "Success, cstore transaction is successful",
               number: { $0["payment_code"] as? String }),
        Vector(type: "akulaku", message: "Success, Akulaku transaction is created", number: { lastPathPart($0["redirect_url"]) }),
        Vector(type: "kredivo", message: "Kredivo transaction is created", number: { lastPathPart($0["redirect_url"]) }),
    ]

    static func lastPathPart(_ url: Any?) -> String? { (url as? String)?.split(separator: "/").last.map(String.init) }

    static func deeplinkAccount(_ answer: [String: Any]) -> String? {
        lastPathPart((answer["actions"] as? [[String: Any]])?.first { $0["name"] as? String == "deeplink-redirect" }?["url"])
    }

    /// The account number inside a QR string: EMVCo field 26's sub-field 01.
    static func qrAccount(_ answer: [String: Any]) -> String? {
        guard let qr = answer["qr_string"] as? String else { return nil }
        return EMVPayload.fields(qr)["26"].flatMap { EMVPayload.fields($0)["01"] }
    }

    @Test("each channel: created pending with its own fields, the bank's account paid, settled at the gateway, paid at the merchant", arguments: vectors)
    func channel(_ vector: Vector) async throws {
        let h = try await Harness.start()
        let order = "ch-\(vector.type)-\(UUID().uuidString.prefix(6))"
        var body: [String: Any] = ["payment_type": vector.type, "transaction_details": ["order_id": order, "gross_amount": 25000]]
        if !vector.object.isEmpty { body[vector.type] = vector.object }
        if ["akulaku", "kredivo"].contains(vector.type) {
            body["item_details"] = [["id": "kopi", "name": "Kopi", "price": 25000, "quantity": 1]]
            body["customer_details"] = ["first_name": "Budi", "email": "budi@example.com", "phone": "+6281234567890"]
        }
        let answer = try await h.call(.post, "/v2/charge", body)
        #expect(answer.status == 200 && answer.body["status_code"] as? String == "201", "\(answer.body)")
        #expect(answer.body["status_message"] as? String == vector.message)
        #expect(answer.body["transaction_status"] as? String == "pending" && answer.body["payment_type"] as? String == vector.type)
        let number = try #require(vector.number(answer.body), "the answer shows the number the customer pays: \(answer.body)")
        if let custom = vector.object["va_number"] { #expect(number == custom, "the merchant's own number") }
        let account = try #require(try h.bank.ledger.account(number: number), "the bank opened that account")
        #expect(account.amount == Rupiah(25000) && !account.paid)
        if let message = vector.object["message"] { #expect(account.note == [message], "the shop's message is kept with the account") }
        #expect(try await h.payAtBank(number) == 200)
        try await EndToEndTests.eventually("the notice settles the transaction") { try h.transaction(order)?.state.status == .settlement }
        let status = try await h.call(.get, "/v2/\(order)/status").body
        #expect(status["transaction_status"] as? String == "settlement" && status["settlement_time"] != nil, "\(status)")
        #expect(try h.notified(order) == ["pending", "settlement"])
        #expect(try h.held(order) == Rupiah(25000))
        await h.stop()
    }

    @Test("the merchant's shop sells through each new channel: its order shows the code and is paid by the webhook", arguments: [
        ["type": "shopeepay"], ["type": "cstore", "store": "alfamart"], ["type": "akulaku"], ["type": "kredivo"], ["type": "qris", "acquirer": "airpay shopee"],
    ])
    func shop(_ payment: [String: String]) async throws {
        let system = try await EndToEndTests.start()
        let customer = system.customer()
        let order = try await customer.order("kopi", payment: payment)
        #expect(order.status == .awaitingPayment, "\(order)")
        switch payment["type"] {
        case "shopeepay": #expect(order.deeplink_url != nil)
        case "cstore": #expect(order.payment_code != nil && order.store == "alfamart")
        case "qris": #expect(order.qr_string != nil)
        default: #expect(order.redirect_url != nil)
        }
        let record = try #require(try system.store!.find(merchantID: system.options.merchantID, id: order.order_id))
        try await customer.payAtBank(try #require(record.vaNumber))
        try await EndToEndTests.eventually("the order is paid") { system.shop!.order(order.order_id)?.status == .paid }
        await EndToEndTests.stop(system)
    }

    @Test("each channel's own rules, with Midtrans' validation messages", arguments: [
        (#"{"payment_type": "cstore"}"#, "cstore.store is required"),
        (#"{"payment_type": "cstore", "cstore": {"store": "lawson"}}"#, "cstore.store is not supported: use indomaret or alfamart"),
        (#"{"payment_type": "qris", "qris": {"acquirer": "ovo"}}"#, "qris.acquirer is not supported: use gopay or airpay shopee"),
        (#"{"payment_type": "bank_transfer", "bank_transfer": {"bank": "bni", "va_number": "123456789"}}"#, "bank_transfer.va_number for bni must be 1 to 8 digits"),
        (#"{"payment_type": "bank_transfer", "bank_transfer": {"bank": "permata", "va_number": "12345"}}"#, "bank_transfer.va_number for permata must be 10 digits"),
        (#"{"payment_type": "bank_transfer", "bank_transfer": {"bank": "bca", "va_number": "12ab"}}"#, "bank_transfer.va_number for bca must be 1 to 11 digits"),
        (#"{"payment_type": "bank_transfer", "bank_transfer": {"bank": "bri", "free_text": {"inquiry": []}}}"#, "bank_transfer.free_text is for bca only"),
        (#"{"payment_type": "bank_transfer", "bank_transfer": {"bank": "bca", "free_text": {"payment": [{"id": "Bayar", "en": ""}]}}}"#, "bank_transfer.free_text.payment[0].en must be 1 to 50 characters"),
        (#"{"payment_type": "shopeepay", "shopeepay": {"callback_url": 7}}"#, "shopeepay.callback_url must be a URL of at most 255 characters"),
        (#"{"payment_type": "ovo"}"#, "payment_type is not supported: ovo"),
        (#"{"payment_type": "akulaku", "customer_details": {"first_name": "Budi"}}"#, "item_details is required for akulaku"),
    ])
    func rules(json: String, message: String) async throws {
        var body = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        body["transaction_details"] = ["order_id": "rule-\(UUID().uuidString.prefix(8))", "gross_amount": 1000]
        let request = Result { () throws(GatewayError) in try ChargeRequest(json: body) }
        guard case .failure(.validation(let problems)) = request else {
            Issue.record("accepted: \(json)")
            return
        }
        #expect(problems == [message])
    }

    @Test("a custom va_number another account already had is not given twice: the bank picks a fresh one")
    func customNumberTaken() async throws {
        let h = try await Harness.start()
        func charge(_ order: String) async throws -> String? {
            let answer = try await h.call(.post, "/v2/charge", [
                "payment_type": "bank_transfer", "transaction_details": ["order_id": order, "gross_amount": 1000],
                "bank_transfer": ["bank": "bni", "va_number": "77001234"],
            ])
            return (answer.body["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String
        }
        #expect(try await charge("custom-1") == "77001234")
        let second = try #require(try await charge("custom-2"))
        #expect(second != "77001234" && second.hasPrefix("8127"), "\(second)")
        await h.stop()
    }

    @Test("BCA's free_text is kept with the account for the ATM's screen")
    func freeText() async throws {
        let h = try await Harness.start()
        let answer = try await h.call(.post, "/v2/charge", [
            "payment_type": "bank_transfer", "transaction_details": ["order_id": "free-text", "gross_amount": 1000],
            "bank_transfer": ["bank": "bca", "free_text": ["inquiry": [["id": "Toko Batik", "en": "Batik shop"]], "payment": [["id": "Terima kasih", "en": "Thank you"]]]],
        ])
        let number = try #require((answer.body["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String)
        let account = try #require(try h.bank.ledger.account(number: number))
        #expect(account.note == ["inquiry id: Toko Batik", "inquiry en: Batik shop", "payment id: Terima kasih", "payment en: Thank you"])
        await h.stop()
    }

    @Test("a QR string is EMVCo's layout with a valid CRC-16 (what a wallet checks before paying)")
    func qrString() {
        let text = EMVPayload.merchantPresented(account: "812700000000042", amount: Rupiah(15000), acquirer: "gopay")
        let fields = EMVPayload.fields(text)
        #expect(fields["54"] == "15000" && fields["53"] == "360" && fields["58"] == "ID")
        #expect(EMVPayload.fields(fields["26"] ?? "")["01"] == "812700000000042")
        #expect(EMVPayload.checksumMatches(text))
        var tampered = Array(text)
        tampered[text.count / 2] = tampered[text.count / 2] == "1" ? "2" : "1"
        #expect(!EMVPayload.checksumMatches(String(tampered)), "one changed character fails the check")
        // CRC-16/CCITT-FALSE's check value (the catalogue's "123456789" vector).
        #expect(EMVPayload.crc16(Array("123456789".utf8)) == 0x29B1)
    }

    @Test("the generate-qr-code action serves a PNG (SVG on request) that a reader decodes back to qr_string; no key needed")
    func qrImage() async throws {
        let h = try await Harness.start()
        let answer = try await h.call(.post, "/v2/charge", ["payment_type": "qris", "transaction_details": ["order_id": "qr-image", "gross_amount": 15000]])
        let qr = try #require(answer.body["qr_string"] as? String)
        let action = try #require((answer.body["actions"] as? [[String: Any]])?.first { $0["name"] as? String == "generate-qr-code" }?["url"] as? String)
        let png = try await h.system.client.get(action)
        #expect(png.status == 200 && png.fields["Content-Type"] == "image/png" && png.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        try await QRCodeSuites.QRCodeDecodeTests.expectDecoded([png.body], equal: [qr])
        let svg = try await h.system.client.get(action + "?format=svg")
        #expect(svg.fields["Content-Type"] == "image/svg+xml" && String(decoding: svg.body, as: UTF8.self).hasPrefix("<svg"))
        let wrongType = action.replacingOccurrences(of: "/v2/qris/", with: "/v2/gopay/")
        #expect(try await h.system.client.get(wrongType).status == 404)
        await h.stop()
    }

    @Test("settlement adds each channel's fields: payment_amounts for a VA; issuer and on-us/off-us for QRIS")
    func settlementFields() async throws {
        let h = try await Harness.start()
        _ = try await h.vaCharge("settle-va", amount: 12000)
        let onUs = try await h.call(.post, "/v2/charge", ["payment_type": "qris", "transaction_details": ["order_id": "settle-qr", "gross_amount": 5000]])
        let offUs = try await h.call(.post, "/v2/charge", [
            "payment_type": "qris", "transaction_details": ["order_id": "settle-qr-2", "gross_amount": 5000], "qris": ["acquirer": "airpay shopee"],
        ])
        #expect(onUs.body["issuer"] == nil, "the issuer is known once someone paid")
        #expect(offUs.body["acquirer"] as? String == "airpay shopee")
        for order in ["settle-va", "settle-qr", "settle-qr-2"] {
            #expect(try await h.payAtBank(try #require(try h.transaction(order)?.vaNumber)) == 200)
            try await EndToEndTests.eventually("\(order) settles") { try h.transaction(order)?.state.status == .settlement }
        }
        let va = try await h.call(.get, "/v2/settle-va/status").body
        let payments = try #require(va["payment_amounts"] as? [[String: Any]], "\(va)")
        #expect(payments.count == 1 && payments[0]["amount"] as? String == "12000.00" && payments[0]["paid_at"] as? String == va["settlement_time"] as? String)
        let qr = try await h.call(.get, "/v2/settle-qr/status").body
        #expect(qr["issuer"] as? String == "gopay" && qr["transaction_type"] as? String == "on-us" && qr["acquirer"] as? String == "gopay")
        #expect(try await h.call(.get, "/v2/settle-qr-2/status").body["transaction_type"] as? String == "off-us")
        await h.stop()
    }

    @Test("default expiry per channel: 15 minutes for QRIS and e-wallets, 2 hours for Akulaku, 24 hours for a VA")
    func defaultExpiry() async throws {
        let clock = ManualClock()
        let h = try await Harness.start { $0.now = { clock.now } }
        let customer = ["first_name": "Budi", "email": "budi@example.com"]
        let items = [["id": "a", "name": "A", "price": 1000, "quantity": 1]]
        func expiry(_ type: String, _ extra: [String: Any] = [:]) async throws -> String? {
            var body: [String: Any] = ["payment_type": type, "transaction_details": ["order_id": "exp-\(type)", "gross_amount": 1000]]
            body.merge(extra) { $1 }
            return try await h.call(.post, "/v2/charge", body).body["expiry_time"] as? String
        }
        let now = clock.now
        #expect(try await expiry("qris") == Timestamp.midtrans(now.addingTimeInterval(15 * 60)))
        #expect(try await expiry("shopeepay") == Timestamp.midtrans(now.addingTimeInterval(15 * 60)))
        #expect(try await expiry("akulaku", ["customer_details": customer, "item_details": items]) == Timestamp.midtrans(now.addingTimeInterval(2 * 3600)))
        #expect(try await expiry("bank_transfer", ["bank_transfer": ["bank": "bri"]]) == Timestamp.midtrans(now.addingTimeInterval(24 * 3600)))
        await h.stop()
    }
}
}  // extension WholeSystems
