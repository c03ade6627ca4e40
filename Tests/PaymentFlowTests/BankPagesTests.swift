import Foundation
import HTTPParser
import NetLab
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// The bank simulator's pages, over HTTPS through the whole system: a payment charged at the
/// gateway is looked up and paid on the ATM, wallet, cashier or payment page as a tester's
/// browser would, and the gateway settles it (the page paid through the bank's one payment
/// path). Refusals answer the JSON route's statuses as pages; posts from another site pay
/// nothing; every page carries a Content-Security-Policy and escapes what it shows.
@Suite("Bank simulator pages", .serialized, .timeLimit(.minutes(3)))
struct BankPagesTests {
    typealias Harness = RaceTests.Harness

    /// Opens one of the bank's pages.
    static func open(_ h: Harness, _ path: String) async throws -> HTTPClientResponse {
        try await h.system.client.get(h.system.urls[.bank]! + path)
    }

    /// Posts a page's form as the customer's browser does: URL-encoded, from the bank's own
    /// origin unless `origin` says otherwise.
    static func submit(_ h: Harness, _ path: String, _ form: [String: String], origin: String? = nil,
                       fetchSite: String? = nil) async throws -> HTTPClientResponse {
        let bank = h.system.urls[.bank]!
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(bank + path))
        request.body = Array(form.map { "\($0.key)=\(encoded($0.value))" }.joined(separator: "&").utf8)
        try request.fields.append(name: "Content-Type", value: "application/x-www-form-urlencoded")
        try request.fields.append(name: "Origin", value: origin ?? bank)
        if let fetchSite { try request.fields.append(name: "Sec-Fetch-Site", value: fetchSite) }
        return try await h.system.client.execute(request)
    }

    static func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text }

    /// A charge at the gateway as the merchant's server makes it; the number the customer pays
    /// (the bank's account), read from the transaction.
    static func charge(_ h: Harness, _ order: String, _ type: String, amount: Int = 25000,
                       _ object: [String: Any]? = nil) async throws -> (number: String, body: [String: Any]) {
        var body: [String: Any] = ["payment_type": type, "transaction_details": ["order_id": order, "gross_amount": amount]]
        if let object { body[type] = object }
        if ["akulaku", "kredivo"].contains(type) {
            body["item_details"] = [["id": "kopi", "name": "Kopi", "price": amount, "quantity": 1]]
            body["customer_details"] = ["first_name": "Budi", "email": "budi@example.com", "phone": "+6281234567890"]
        }
        let answer = try await h.call(.post, "/v2/charge", body)
        #expect(answer.status == 200 && answer.body["transaction_status"] as? String == "pending", "\(answer.body)")
        return (try #require(try h.transaction(order)?.vaNumber), answer.body)
    }

    static func settles(_ h: Harness, _ order: String) async throws {
        try await EndToEndTests.eventually("\(order) settles at the gateway") { try h.transaction(order)?.state.status == .settlement }
        #expect(try h.notified(order) == ["pending", "settlement"])
    }

    /// A page as every page must be: its own policy (scripts from the bank only, none inline),
    /// the style sheet, a viewport for phones, and no placeholder left unfilled.
    static func expectPage(_ response: HTTPClientResponse, status: Int, _ where_: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == status, "\(where_): \(response.text)", sourceLocation: sourceLocation)
        #expect(response.fields["Content-Type"] == "text/html; charset=utf-8", sourceLocation: sourceLocation)
        #expect(response.fields["Content-Security-Policy"]?.contains("script-src 'self'") == true, "\(where_)", sourceLocation: sourceLocation)
        #expect(response.text.contains(#"<link rel="stylesheet" href="/assets/netlab.css">"#), "\(where_)", sourceLocation: sourceLocation)
        #expect(response.text.contains(#"<meta name="viewport""#), sourceLocation: sourceLocation)
        #expect(!response.text.contains("{{") && !response.text.contains("<script"), "\(where_)", sourceLocation: sourceLocation)
    }

    @Test("ATM: a virtual account charged at the gateway is shown (bank, amount in rupiah, the merchant's note escaped), paid, settled; a second payment is refused 409")
    func atm() async throws {
        let h = try await Harness.start()
        let (number, _) = try await Self.charge(h, "atm-1", "bank_transfer", amount: 85000, [
            "bank": "bca",
            "free_text": ["inquiry": [["id": "<script>alert(1)</script>", "en": "Batik shop"]], "payment": [["id": "Terima kasih", "en": "Thank you"]]],
        ])
        let form = try await Self.open(h, "/atm")
        Self.expectPage(form, status: 200, "the ATM's form")
        #expect(form.text.contains(#"<label for="number">Virtual account or bill key number</label>"#))

        let shown = try await Self.open(h, "/atm?number=\(number)")
        Self.expectPage(shown, status: 200, "the account")
        #expect(shown.text.contains("BCA virtual account") && shown.text.contains("Rp 85.000") && shown.text.contains("Waiting for payment"))
        #expect(shown.text.contains("inquiry id: &lt;script&gt;alert(1)&lt;/script&gt;"), "the note is shown, escaped: \(shown.text)")
        #expect(shown.text.contains(#"<form method="post" action="/atm/pay" class="">"#) && shown.text.contains(#"name="number" value="\#(number)""#))
        #expect(try h.transaction("atm-1")?.state.status == .pending, "looking pays nothing")

        let paid = try await Self.submit(h, "/atm/pay", ["number": number])
        Self.expectPage(paid, status: 200, "the payment")
        #expect(paid.text.contains("Paid Rp 85.000 for BCA virtual account \(number)"))
        try await Self.settles(h, "atm-1")
        #expect(try h.held("atm-1") == Rupiah(85000))

        let again = try await Self.submit(h, "/atm/pay", ["number": number])
        Self.expectPage(again, status: 409, "a second payment")
        #expect(again.text.contains("already paid: nothing was taken this time"))
        #expect(try h.held("atm-1") == Rupiah(85000), "taken once")
        let after = try await Self.open(h, "/atm?number=\(number)")
        #expect(after.text.contains("is already paid") && after.text.contains(#"<form method="post" action="/atm/pay" class="hidden">"#))
        await h.stop()
    }

    @Test("ATM: no such account answers 404 and a cancelled payment's closed account 410, as pages; nothing is paid")
    func atmRefusals() async throws {
        let h = try await Harness.start()
        let missing = try await Self.open(h, "/atm?number=999000999")
        Self.expectPage(missing, status: 404, "an unknown number")
        #expect(missing.text.contains("No account has the number “999000999”"))
        Self.expectPage(try await Self.submit(h, "/atm/pay", ["number": "999000999"]), status: 404, "paying an unknown number")
        Self.expectPage(try await Self.open(h, "/pay/999000999"), status: 404, "an unknown payment page")

        let (number, _) = try await Self.charge(h, "atm-closed", "bank_transfer", ["bank": "bni"])
        #expect(try await h.call(.post, "/v2/atm-closed/cancel").status == 200)
        try await EndToEndTests.eventually("the gateway closes the account at the bank") { try h.bank.ledger.account(number: number)?.closed == true }
        let shown = try await Self.open(h, "/atm?number=\(number)")
        Self.expectPage(shown, status: 200, "a closed account")
        #expect(shown.text.contains("BNI virtual account is closed") && shown.text.contains(#"class="hidden""#), "no Pay button: \(shown.text)")
        let closed = try await Self.submit(h, "/atm/pay", ["number": " \(number) "])
        Self.expectPage(closed, status: 410, "paying a closed account")
        #expect(closed.text.contains("is closed: its payment was cancelled or expired"))
        #expect(try h.held("atm-closed") == .zero && h.transaction("atm-closed")?.state.status == .cancel)
        await h.stop()
    }

    @Test("wallet: a QRIS string pasted in shows the merchant and amount and pays; a tampered code, one without a merchant account or with another amount is refused 400")
    func wallet() async throws {
        let h = try await Harness.start()
        let (number, answer) = try await Self.charge(h, "wallet-1", "qris")
        let qr = try #require(answer["qr_string"] as? String)
        Self.expectPage(try await Self.open(h, "/wallet"), status: 200, "the wallet's form")
        #expect(try await Self.open(h, "/wallet").text.contains(#"<label for="qr">QR code</label>"#))

        var tampered = Array(qr)
        tampered[qr.count / 2] = tampered[qr.count / 2] == "1" ? "2" : "1"
        let refused = try await Self.open(h, "/wallet?qr=\(Self.encoded(String(tampered)))")
        Self.expectPage(refused, status: 400, "a tampered code")
        #expect(refused.text.contains("checksum (CRC) does not match"))
        var noMerchant = "000201" + "5303360" + "540525000" + "6304"
        noMerchant += String(format: "%04X", EMVPayload.crc16(Array(noMerchant.utf8)))
        let anonymous = try await Self.open(h, "/wallet?qr=\(Self.encoded(noMerchant))")
        Self.expectPage(anonymous, status: 400, "a code without field 26")
        #expect(anonymous.text.contains("names no merchant account"))
        let dearer = EMVPayload.merchantPresented(account: number, amount: Rupiah(99000), acquirer: "gopay")
        let mismatch = try await Self.open(h, "/wallet?qr=\(Self.encoded(dearer))")
        Self.expectPage(mismatch, status: 400, "a code asking for another amount")
        #expect(mismatch.text.contains("asks for Rp 99.000, but the merchant&#39;s bill is Rp 25.000"))

        let shown = try await Self.open(h, "/wallet?qr=\(Self.encoded(qr))")
        Self.expectPage(shown, status: 200, "the scanned code")
        #expect(shown.text.contains("NETLAB MERCHANT, JAKARTA") && shown.text.contains("Rp 25.000") && shown.text.contains("QRIS payment"))
        #expect(shown.text.contains(#"action="/wallet/pay""#) && shown.text.contains(#"name="number" value="\#(number)""#))
        #expect(try h.transaction("wallet-1")?.state.status == .pending, "nothing was paid by looking, nor by the refused codes")

        Self.expectPage(try await Self.submit(h, "/wallet/pay", ["number": number]), status: 200, "the approval")
        try await Self.settles(h, "wallet-1")
        await h.stop()
    }

    @Test("cashier: an Indomaret payment code shows the shop's message escaped, and pays")
    func cashier() async throws {
        let h = try await Harness.start()
        let (code, answer) = try await Self.charge(h, "till-1", "cstore", amount: 30000, ["store": "indomaret", "message": "<script>alert('kasir')</script>"])
        #expect(answer["payment_code"] as? String == code)
        let form = try await Self.open(h, "/cashier")
        Self.expectPage(form, status: 200, "the till's form")
        #expect(form.text.contains(#"<label for="code">Payment code</label>"#))
        let shown = try await Self.open(h, "/cashier?code=\(code)")
        Self.expectPage(shown, status: 200, "the bill")
        #expect(shown.text.contains("Indomaret payment code") && shown.text.contains("Rp 30.000"))
        #expect(shown.text.contains("&lt;script&gt;alert(&#39;kasir&#39;)&lt;/script&gt;"), "\(shown.text)")
        #expect(shown.text.contains(#"action="/cashier/pay""#) && shown.text.contains(#"name="code" value="\#(code)""#))
        let paid = try await Self.submit(h, "/cashier/pay", ["code": code])
        Self.expectPage(paid, status: 200, "paid at the till")
        #expect(paid.text.contains("Paid Rp 30.000 for Indomaret payment code"))
        try await Self.settles(h, "till-1")
        Self.expectPage(try await Self.submit(h, "/cashier/pay", ["code": code]), status: 409, "paid twice at the till")
        await h.stop()
    }

    @Test("payment page: ShopeePay's deeplink and Kredivo's redirect open /pay/{number}, whose Approve button pays", arguments: ["shopeepay", "kredivo"])
    func paymentPage(_ type: String) async throws {
        let h = try await Harness.start()
        let order = "page-\(type)"
        let (number, answer) = try await Self.charge(h, order, type)
        let link = type == "shopeepay"
            ? (answer["actions"] as? [[String: Any]])?.first { $0["name"] as? String == "deeplink-redirect" }?["url"] as? String
            : answer["redirect_url"] as? String
        #expect(link == h.system.urls[.bank]! + "/pay/\(number)", "\(answer)")
        let shown = try await h.system.client.get(try #require(link))
        Self.expectPage(shown, status: 200, "the payment page")
        #expect(shown.text.contains(type == "shopeepay" ? "ShopeePay payment" : "Kredivo instalment plan") && shown.text.contains("Rp 25.000"))
        #expect(shown.text.contains(#"<form method="post" action="/pay/\#(number)""#) && shown.text.contains("Approve Rp 25.000"))
        let approved = try await Self.submit(h, "/pay/\(number)", [:])
        Self.expectPage(approved, status: 200, "approved")
        try await Self.settles(h, order)
        await h.stop()
    }

    @Test("a form posted from another site is refused with 403 on every simulator, and pays nothing")
    func crossSite() async throws {
        let h = try await Harness.start()
        let (va, _) = try await Self.charge(h, "cross-va", "bank_transfer", ["bank": "bca"])
        let (qr, _) = try await Self.charge(h, "cross-qr", "qris")
        let (code, _) = try await Self.charge(h, "cross-till", "cstore", ["store": "alfamart"])
        let (deeplink, _) = try await Self.charge(h, "cross-app", "shopeepay")
        for (path, form) in [("/atm/pay", ["number": va]), ("/wallet/pay", ["number": qr]), ("/cashier/pay", ["code": code]), ("/pay/\(deeplink)", [:])] {
            let refused = try await Self.submit(h, path, form, origin: "https://evil.example")
            Self.expectPage(refused, status: 403, "\(path) from https://evil.example")
            #expect(refused.text.contains("may only be posted from its own page: nothing was paid"))
        }
        Self.expectPage(try await Self.submit(h, "/atm/pay", ["number": va], fetchSite: "cross-site"), status: 403, "Sec-Fetch-Site: cross-site")
        for number in [va, qr, code, deeplink] {
            #expect(try h.bank.ledger.account(number: number)?.paid == false, "account \(number) is unpaid")
        }
        #expect(try h.bank.balance == .zero)
        Self.expectPage(try await Self.submit(h, "/atm/pay", ["number": va]), status: 200, "the same form from the bank's own page")
        try await Self.settles(h, "cross-va")
        await h.stop()
    }

    @Test("the index lists the simulators; the style sheet is served; amounts read as Indonesians write them")
    func indexAndAssets() async throws {
        let h = try await Harness.start()
        let index = try await Self.open(h, "/")
        Self.expectPage(index, status: 200, "the index")
        for link in ["/atm", "/wallet", "/cashier"] { #expect(index.text.contains(#"<a href="\#(link)">"#), "\(link)") }
        let style = try await Self.open(h, "/assets/netlab.css")
        #expect(style.status == 200 && style.fields["Content-Type"] == "text/css; charset=utf-8" && style.text.contains(".facts"))
        #expect(Rupiah(85000).displayText == "Rp 85.000" && Rupiah(1_250_000).displayText == "Rp 1.250.000")
        #expect(Rupiah(999).displayText == "Rp 999" && Rupiah(0).displayText == "Rp 0" && Rupiah(-100).displayText == "Rp -100")
        await h.stop()
    }

    @Test("what the wallet makes of pasted text: a QR code's account, merchant and amount; an account number or its deeplink as they are")
    func scanning() {
        let qr = EMVPayload.merchantPresented(account: "812700000000042", amount: Rupiah(15000), acquirer: "gopay")
        #expect(BankPages.scan(qr) == .account("812700000000042", merchant: "NETLAB MERCHANT, JAKARTA", amount: Rupiah(15000)))
        #expect(BankPages.scan("812700000000042") == .account("812700000000042", merchant: nil, amount: nil))
        #expect(BankPages.scan("https://127.0.0.1:8443/pay/812700000000042") == .account("812700000000042", merchant: nil, amount: nil))
        guard case .refused = BankPages.scan("gojek://gopay/merchanttransfer?tref=8127") else {
            Issue.record("a text that is no QR code and no account number is refused")
            return
        }
    }
}
}
