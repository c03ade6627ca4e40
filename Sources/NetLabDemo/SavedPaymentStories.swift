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
        note("The customer links their GoPay to the shop once (phone 81234567891): the shop asks the gateway (POST /v2/pay/account)")
        let page = try await customer.linkWallet(phone: "81234567891")
        note("PENDING: the customer opens the activation link and approves with their GoPay PIN (sandbox: \(SandboxWallets.pin))", [
            "The wallet provider (here the bank simulator) issues a token for this link; the gateway keeps it with the account.",
            "The shop reads it when it charges (GET /v2/pay/account/{id}: payment_options); the customer's browser never sees it.",
        ])
        try await customer.approve(page, pin: SandboxWallets.pin)
        note("ENABLED. From now on the shop charges the wallet directly: below Rp 100.000 without asking the customer again.")
        let order = try await customer.order("kopi", payment: ["type": "gopay", "wallet_phone": "81234567891"])
        try await webhookHandled(order.order_id, "settlement")
        try require(orderStatus(order.order_id) == .paid, "the order is \(orderStatus(order.order_id)?.rawValue ?? "missing"), not paid")
        await conclude("Paid from the linked wallet in one step: no redirect, no QR, no PIN (under the threshold).", outcome: "paid")
        return DemoResult(succeeded: true, summary: "gopay-linked: GoPay linked; order \(order.order_id) paid from it")
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
            Set(steps.compactMap { step -> String? in
                guard case .orderStatus(let order, _, .paid)? = step.event, order.hasPrefix("SUBS-") else { return nil }
                return order
            }).count >= 3
        }
        for n in 1...3 { try await webhookHandled("SUBS-\(id)-\(n)", "capture") }
        let (_, state) = try await shop().gateway(.get, "/v1/subscriptions/\(id)", nil)
        await conclude("Charged three times on schedule; max_interval reached, the subscription is \(state["status"] as? String ?? "?").", outcome: "charged")
        return DemoResult(succeeded: true, summary: "subscription: \(id) charged three times by the gateway's timers")
    }
}
