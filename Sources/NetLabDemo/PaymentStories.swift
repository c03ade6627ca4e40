import Foundation
import HTTPParser
import NetLab
import PaymentFlow
import TLSWrapper

/// The stories of a payment's ordinary course: a card accepted, declined or challenged, a
/// virtual account paid or expired, a refund.
extension DemoContext {
    func cardAccept(_ customer: Customer) async throws -> DemoResult {
        let before = try bank().balance
        note("The customer buys Kopi Toraja (Rp 85.000) and pays by card 4811 1111 1111 1114", [
            "The card number goes to the gateway only (GET /v2/token with the merchant's public client key);",
            "the shop receives a token. This sandbox card asks for 3-D Secure: an OTP page at the gateway, the bank checks the OTP.",
        ])
        // Customer.payByCard's steps one by one, each webhook in its place: "pending" once the
        // charge is made (the OTP is still to come), "capture" once the OTP is checked.
        let token = try await customer.tokenize(card("4811111111111114"))
        let placed = try await customer.order("kopi", payment: ["type": "credit_card", "token_id": token])
        try await webhook(placed.order_id, "pending")
        guard let redirect = placed.redirect_url else { throw Failure(description: "no 3-D Secure page for a card that asks for one") }
        try await customer.authenticate(redirect: redirect, otp: SandboxCards.otp)
        try await webhook(placed.order_id, "capture")
        let order = try await customer.order(status: placed.order_id, refresh: true)
        let received = try bank().balance.amount - before.amount
        try require(orderStatus(order.order_id) == .paid, "the order is \(orderStatus(order.order_id)?.rawValue ?? "missing"), not paid")
        await conclude("Paid: the bank holds Rp \(received), the gateway says capture, the merchant's order is paid.", outcome: "paid")
        return DemoResult(succeeded: true, summary: "card-accept: order \(order.order_id) paid (capture), the webhook verified and confirmed")
    }

    func cardDeny(_ customer: Customer) async throws -> DemoResult {
        note("The customer pays with card 4711 1111 1111 1115, which the bank declines")
        let order = try await customer.payByCard("kopi", card: card("4711111111111115"))
        try await webhook(order.order_id, "deny")
        try require(orderStatus(order.order_id) == .denied, "the order is \(orderStatus(order.order_id)?.rawValue ?? "missing"), not denied")
        await conclude("Denied: the bank said no, the gateway recorded deny, the merchant shows the order as denied (no money moved).", outcome: "denied")
        return DemoResult(succeeded: true, summary: "card-deny: order \(order.order_id) denied by the bank")
    }

    func fraudChallenge(_ customer: Customer) async throws -> DemoResult {
        note("The customer pays with card 4511 1111 1111 1117: the fraud service's rules say challenge")
        let order = try await customer.payByCard("batik", card: card("4511111111111117"))
        try require(order.status == .awaitingReview, "the order is \(order.status.rawValue), not in review")
        note("The charge is captured but flagged: the merchant's staff must review it before shipping. They approve it.")
        let (status, _) = try await shop().gateway(.post, "/v2/\(order.order_id)/approve", nil)
        try require(status == 200, "approve answered \(status)")
        try await expect("the merchant's order to become paid") { steps in
            steps.contains { if case .orderStatus(order.order_id, _, .paid)? = $0.event { true } else { false } }
        }
        try await webhookHandled(order.order_id, "capture")
        await conclude("Approved: fraud_status accept, the order is paid.", outcome: "paid")
        return DemoResult(succeeded: true, summary: "fraud-challenge: order \(order.order_id) challenged, approved, paid")
    }

    func vaTransfer(_ customer: Customer) async throws -> DemoResult {
        note("The customer chooses bank transfer (BCA virtual account) for batik (Rp 450.000)")
        let order = try await customer.order("batik", payment: ["type": "bank_transfer", "bank": "bca"])
        guard let va = order.va_number else { throw Failure(description: "no virtual account number in the answer") }
        try await webhook(order.order_id, "pending")
        note("The shop shows: transfer Rp 450.000 to BCA virtual account \(va). The customer pays at the bank's ATM.")
        try await customer.payAtBank(va)
        try await webhook(order.order_id, "settlement")
        try require(orderStatus(order.order_id) == .paid, "the order is \(orderStatus(order.order_id)?.rawValue ?? "missing"), not paid")
        await conclude("Settled: the bank told the gateway, the gateway told the merchant, the order is paid.", outcome: "paid")
        return DemoResult(succeeded: true, summary: "va-transfer: order \(order.order_id) paid by VA \(va)")
    }

    func expire(_ customer: Customer) async throws -> DemoResult {
        note("A virtual account that expires in 1.5 s (Midtrans: 24 h by default)")
        let order = try await customer.order("kopi", payment: ["type": "bank_transfer", "bank": "bni"])
        guard let va = order.va_number else { throw Failure(description: "no virtual account number in the answer") }
        try await expect("the order to expire") { steps in
            steps.contains { if case .orderStatus(order.order_id, _, .expired)? = $0.event { true } else { false } }
        }
        try await webhookHandled(order.order_id, "expire")
        note("Nobody paid in time: the gateway expired it, closed the account at the bank, and told the merchant. The customer tries to pay anyway:")
        do {
            try await customer.payAtBank(va)
            throw Failure(description: "the bank accepted a payment into an expired account")
        } catch let refused as Customer.CheckoutError {
            await conclude("The bank refuses: \(refused)", outcome: "refused")
        }
        return DemoResult(succeeded: true, summary: "expire: order \(order.order_id) expired; the late payment was refused")
    }

    func refund(_ customer: Customer) async throws -> DemoResult {
        note("A card payment (4411 1111 1111 1118, no 3-D Secure), settled the next day (here: after 1 s), then refunded")
        let order = try await customer.payByCard("kopi", card: card("4411111111111118"))
        try await expect("the settlement") { steps in
            steps.contains { if case .gatewayStatus(order.order_id, _, _, .settlement, _)? = $0.event { true } else { false } }
        }
        try await webhookHandled(order.order_id, "settlement")
        note("The customer returns the coffee. The merchant refunds it in full.")
        let (status, answer) = try await shop().gateway(.post, "/v2/\(order.order_id)/refund",
                                                               ["refund_key": "\(order.order_id)-r1", "amount": 85000, "reason": "returned"])
        try require(status == 200, "refund answered \(status): \(answer["status_message"] ?? "")")
        try await expect("the merchant's order to be refunded") { steps in
            steps.contains { if case .orderStatus(order.order_id, _, .refunded)? = $0.event { true } else { false } }
        }
        try await webhookHandled(order.order_id, "refund")
        await conclude("Refunded: the gateway's transaction is refund, the merchant's order is refunded.", outcome: "refunded")
        return DemoResult(succeeded: true, summary: "refund: order \(order.order_id) settled, then refunded")
    }
}
