import Foundation
import HTTPParser
import NetLab
import PaymentFlow

/// The stories of payments the customer set up once: a saved card, a linked GoPay wallet, a
/// subscription.
extension DemoContext {
    func savedCard(_ customer: Customer) async throws -> DemoResult {
        note("The customer saves card 4411 1111 1111 1118 at the gateway (GET /v2/card/register, from the page, with the client key)", [
            "The gateway seals the number and expiry (AES-256-GCM, key in a 0600 file) before they reach its database; the CVV is not kept at all.",
            "The shop receives a saved_token_id: first eight digits, twenty random characters, last four.",
        ])
        let saved = try await customer.registerCard(card("4411111111111118"))
        recorder.markSensitive(saved)
        var orders: [String] = []
        for round in 1...2 {
            note(round == 1 ? "The customer buys kopi with the saved card: no card number, no CVV — the shop sends the saved token"
                : "Next week, again: the same saved token charges the card again (a one-time token would now be refused)")
            let order = try await customer.order("kopi", payment: ["type": "credit_card", "token_id": saved])
            try await webhookHandled(order.order_id, "capture")
            try require(orderStatus(order.order_id) == .paid, "order \(order.order_id) is \(orderStatus(order.order_id)?.rawValue ?? "missing")")
            orders.append(order.order_id)
        }
        await conclude("Two orders paid with one saved card; the bank charged a card on file (no CVV to present).", outcome: "paid")
        return DemoResult(succeeded: true, summary: "saved-card: orders \(orders.joined(separator: ", ")) paid with one saved_token_id")
    }

    func gopayLinked(_ customer: Customer) async throws -> DemoResult {
        let shop = system!.shop!
        note("The shop asks the gateway to link the customer's GoPay wallet (POST /v2/pay/account, phone 81234567891)")
        let (status, linked) = try await shop.gateway(.post, "/v2/pay/account", [
            "payment_type": "gopay", "gopay_partner": ["phone_number": "81234567891", "country_code": "62"],
        ])
        guard status < 300, let account = linked["account_id"] as? String,
            let page = (linked["actions"] as? [[String: Any]])?.first(where: { $0["name"] as? String == "activation-link-url" })?["url"] as? String
        else { throw Failure(description: "the link was refused: \(linked)") }
        note("PENDING: the customer opens the activation link and approves with their GoPay PIN (sandbox: \(SandboxWallets.pin))")
        try await customer.approve(page, pin: SandboxWallets.pin)
        let (_, enabled) = try await shop.gateway(.get, "/v2/pay/account/\(account)", nil)
        let option = ((enabled["metadata"] as? [String: Any])?["payment_options"] as? [[String: Any]])?.first
        guard enabled["account_status"] as? String == "ENABLED", let token = option?["token"] as? String else {
            throw Failure(description: "the account is not enabled: \(enabled)")
        }
        recorder.markSensitive(token)
        note("ENABLED: the account shows the wallet (GOPAY_WALLET, balance \(((option?["balance"] as? [String: Any])?["value"] as? String) ?? "?")) and its payment_option_token.",
             ["From now on the shop charges the wallet directly: below Rp 100.000 without asking the customer again."])
        let order = try await customer.order("kopi", payment: ["type": "gopay", "account_id": account, "payment_option_token": token])
        try await webhookHandled(order.order_id, "settlement")
        try require(orderStatus(order.order_id) == .paid, "the order is \(orderStatus(order.order_id)?.rawValue ?? "missing"), not paid")
        await conclude("Paid from the linked wallet in one step: no redirect, no QR, no PIN (under the threshold).", outcome: "paid")
        return DemoResult(succeeded: true, summary: "gopay-linked: account \(account) linked; order \(order.order_id) paid from it")
    }

    func subscription(_ customer: Customer) async throws -> DemoResult {
        note("The customer subscribes to a daily kopi with a saved card (here a day lasts a second)")
        let saved = try await customer.registerCard(card("4411111111111118"))
        recorder.markSensitive(saved)
        let id = try await customer.subscribe("kopi", savedToken: saved, intervalUnit: "day", maxInterval: 3)
        note("The shop created subscription \(id) at the gateway (POST /v1/subscriptions). Nobody clicks anything from here on:", [
            "the gateway's timers claim each due charge, charge the saved card (order SUBS-<id>-<n>), and the shop hears of it by webhook.",
        ])
        try await expect("three charges paid at the shop", limit: .seconds(30)) { steps in
            Set(steps.filter { $0.kind == "payment.order" && $0.outcome == "paid" && $0.title.contains("SUBS-") }.map(\.title)).count >= 3
        }
        for n in 1...3 { try await webhookHandled("SUBS-\(id)-\(n)", "capture") }
        let (_, state) = try await system!.shop!.gateway(.get, "/v1/subscriptions/\(id)", nil)
        await conclude("Charged three times on schedule; max_interval reached, the subscription is \(state["status"] as? String ?? "?").", outcome: "charged")
        return DemoResult(succeeded: true, summary: "subscription: \(id) charged three times by the gateway's timers")
    }
}
