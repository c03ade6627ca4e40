import Foundation
import HTTPParser
import NetLab
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// GoPay tokenization end to end: link (with the sandbox's refusals), approve with the PIN,
/// read, charge without and with the PIN, run out of balance, unbind.
@Suite("GoPay tokenization (Pay Account API)", .serialized, .timeLimit(.minutes(3)))
struct PayAccountTests {
    typealias Harness = RaceTests.Harness

    static func link(_ h: Harness, phone: String) async throws -> (status: Int, body: [String: Any], replayed: Bool) {
        try await h.call(.post, "/v2/pay/account", [
            "payment_type": "gopay", "gopay_partner": ["phone_number": phone, "country_code": "62", "redirect_url": "https://shop.example/linked"],
        ])
    }

    /// Posts a page's form as the customer's browser does (same origin).
    static func submit(_ h: Harness, _ url: String, pin: String, origin: String? = nil) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(url))
        request.body = Array("pin=\(pin)".utf8)
        try request.fields.append(name: "Content-Type", value: "application/x-www-form-urlencoded")
        if let origin { try request.fields.append(name: "Origin", value: origin) }
        return try await h.system.client.execute(request)
    }

    /// A linked, enabled account: its id and payment option token.
    static func linkedAccount(_ h: Harness) async throws -> (id: String, token: String) {
        let linked = try await link(h, phone: "81234567891")
        let id = try #require(linked.body["account_id"] as? String)
        let page = try #require((linked.body["actions"] as? [[String: Any]])?.first { $0["name"] as? String == "activation-link-url" }?["url"] as? String)
        #expect(try await submit(h, page, pin: SandboxWallets.pin).status == 303)
        let account = try await h.call(.get, "/v2/pay/account/\(id)").body
        let options = try #require((account["metadata"] as? [String: Any])?["payment_options"] as? [[String: Any]])
        return (id, try #require(options.first?["token"] as? String))
    }

    static func charge(_ h: Harness, _ account: (id: String, token: String), order: String, amount: Int) async throws -> (status: Int, body: [String: Any], replayed: Bool) {
        try await h.call(.post, "/v2/charge", [
            "payment_type": "gopay", "transaction_details": ["order_id": order, "gross_amount": amount],
            "gopay": ["account_id": account.id, "payment_option_token": account.token],
        ])
    }

    @Test("link answers PENDING with activation links; the sandbox's numbers answer user not found and blocked; a leading 0 is refused")
    func linking() async throws {
        let h = try await Harness.start()
        let linked = try await Self.link(h, phone: "81234567891")
        #expect(linked.body["status_code"] as? String == "201" && linked.body["account_status"] as? String == "PENDING", "\(linked.body)")
        let id = try #require(linked.body["account_id"] as? String)
        #expect(try await h.call(.get, "/v2/pay/account/\(id)").body["status_code"] as? String == "201")
        let unbind = try await h.call(.post, "/v2/pay/account/\(id)/unbind")
        #expect(unbind.status == 412 && unbind.body["status_message"] as? String == "Account status cannot be updated.")
        let missing = try await Self.link(h, phone: "123450001").body
        #expect(missing["status_code"] as? String == "202" && missing["channel_response_message"] as? String == "User Not Found")
        #expect(try await Self.link(h, phone: "123450002").body["channel_response_message"] as? String == "Wallet is Blocked")
        let zero = try await Self.link(h, phone: "081234567891")
        #expect(zero.status == 400 && (zero.body["validation_messages"] as? [String])?.first == "gopay_partner.phone_number must be numeric digits and must not begin with 0")
        #expect(try await h.call(.get, "/v2/pay/account/nope").status == 404)
        await h.stop()
    }

    @Test("approval: a wrong PIN is refused, a post from another site is refused, the right PIN enables the account with a wallet option")
    func approval() async throws {
        let h = try await Harness.start()
        let linked = try await Self.link(h, phone: "81234567891")
        let id = try #require(linked.body["account_id"] as? String)
        let page = h.system.urls[.gateway]! + "/v2/pay/account/\(id)/link"
        #expect(try await h.system.client.get(page).status == 200)
        #expect(try await Self.submit(h, page, pin: "000000").status == 400)
        #expect(try await Self.submit(h, page, pin: SandboxWallets.pin, origin: "https://evil.example").status == 403)
        let approved = try await Self.submit(h, page, pin: SandboxWallets.pin)
        #expect(approved.status == 303 && approved.fields["Location"] == "https://shop.example/linked")
        let account = try await h.call(.get, "/v2/pay/account/\(id)").body
        #expect(account["status_code"] as? String == "200" && account["account_status"] as? String == "ENABLED")
        let option = try #require(((account["metadata"] as? [String: Any])?["payment_options"] as? [[String: Any]])?.first)
        #expect(option["name"] as? String == "GOPAY_WALLET" && (option["balance"] as? [String: Any])?["value"] as? String == "1000000.00")
        #expect(try await Self.submit(h, page, pin: SandboxWallets.pin).status == 404, "approved once")
        await h.stop()
    }

    @Test("a linked charge below Rp 100,000 settles at once; the wallet is charged; the merchant is notified once of the settlement")
    func chargeWithoutPIN() async throws {
        let h = try await Harness.start()
        let account = try await Self.linkedAccount(h)
        let charged = try await Self.charge(h, account, order: "linked-1", amount: 40000)
        #expect(charged.body["status_code"] as? String == "200" && charged.body["transaction_status"] as? String == "settlement", "\(charged.body)")
        #expect(charged.body["status_message"] as? String == "Success, GoPay transaction is successful")
        #expect(!String(describing: charged.body).contains(account.token), "the wallet token is never shown with the transaction")
        #expect(try h.held("linked-1") == Rupiah(40000))
        let balance = try await h.call(.get, "/v2/pay/account/\(account.id)").body
        #expect(String(describing: balance).contains("960000.00"))
        try await EndToEndTests.eventually("the notice is in") { try h.notified("linked-1").last == "settlement" }
        #expect(try h.notified("linked-1").filter { $0 == "settlement" }.count == 1, "the bank's notice and the gateway's record settle it once")
        await h.stop()
    }

    @Test("from Rp 100,000 the customer approves with the PIN on the verification page; an empty wallet is denied")
    func chargeWithPIN() async throws {
        let h = try await Harness.start()
        let account = try await Self.linkedAccount(h)
        let pending = try await Self.charge(h, account, order: "linked-pin", amount: 150000)
        #expect(pending.body["status_code"] as? String == "201" && pending.body["status_message"] as? String == "GoPay transaction is created. Action(s) required")
        let verify = try #require((pending.body["actions"] as? [[String: Any]])?.first { $0["name"] as? String == "verification-link-url" }?["url"] as? String)
        #expect(try await Self.submit(h, verify, pin: "999999").status == 400)
        #expect(try h.transaction("linked-pin")?.state.status == .pending)
        #expect(try await Self.submit(h, verify, pin: SandboxWallets.pin).status == 200)
        try await EndToEndTests.eventually("settled") { try h.transaction("linked-pin")?.state.status == .settlement }
        let big = try await Self.charge(h, account, order: "linked-big", amount: 2_000_000)
        let bigVerify = try #require((big.body["actions"] as? [[String: Any]])?.first?["url"] as? String)
        #expect(try await Self.submit(h, bigVerify, pin: SandboxWallets.pin).status == 200)
        let denied = try await h.call(.get, "/v2/linked-big/status").body
        #expect(denied["transaction_status"] as? String == "deny" && denied["channel_response_message"] as? String == "Insufficient Balance", "\(denied)")
        #expect(try h.held("linked-big") == .zero)
        await h.stop()
    }

    @Test("a refused wallet's account is closed at the bank (a later payment into it is refused); an account unbound while its charge waits for the PIN pays nothing")
    func refusalsCloseThings() async throws {
        let h = try await Harness.start()
        let account = try await Self.linkedAccount(h)
        let big = try await Self.charge(h, account, order: "linked-empty", amount: 2_000_000)
        let verify = try #require((big.body["actions"] as? [[String: Any]])?.first?["url"] as? String)
        #expect(try await Self.submit(h, verify, pin: SandboxWallets.pin).status == 200)
        #expect(try h.transaction("linked-empty")?.state.status == .deny)
        let number = try #require(try h.transaction("linked-empty")?.vaNumber)
        #expect(try await h.payAtBank(number) == 410, "the denied payment's account is closed")
        #expect(big.body["qr_string"] == nil, "a linked charge shows no QR code for anyone else to pay")
        let waiting = try await Self.charge(h, account, order: "linked-unbound", amount: 150_000)
        let page = try #require((waiting.body["actions"] as? [[String: Any]])?.first?["url"] as? String)
        _ = try await h.call(.post, "/v2/pay/account/\(account.id)/unbind")
        #expect(try await Self.submit(h, page, pin: SandboxWallets.pin).status == 412)
        #expect(try h.held("linked-unbound") == .zero)
        await h.stop()
    }

    @Test("unbind disables the account: 204 DISABLED; a charge of it is then refused (412)")
    func unbind() async throws {
        let h = try await Harness.start()
        let account = try await Self.linkedAccount(h)
        let unbound = try await h.call(.post, "/v2/pay/account/\(account.id)/unbind")
        #expect(unbound.body["status_code"] as? String == "204" && unbound.body["account_status"] as? String == "DISABLED", "\(unbound.body)")
        #expect(try await Self.charge(h, account, order: "after-unbind", amount: 1000).status == 412)
        #expect(try await Self.charge(h, (account.id, "forged"), order: "forged", amount: 1000).status == 412)
        await h.stop()
    }
}
}  // extension WholeSystems
