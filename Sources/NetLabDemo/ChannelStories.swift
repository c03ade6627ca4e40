import Foundation
import HTTPParser
import NetLab
import PaymentFlow

/// The stories of payment channels beyond cards and virtual accounts: a convenience store's
/// counter and a QR code.
extension DemoContext {
    func cstore(_ customer: Customer) async throws -> DemoResult {
        note("The customer has no card and no bank app: they choose to pay for kopi (Rp 85.000) at an Indomaret counter")
        let order = try await customer.order("kopi", payment: ["type": "cstore", "store": "indomaret"])
        guard let code = order.payment_code else { throw Failure(description: "no payment code in the answer") }
        try await webhookHandled(order.order_id, "pending")
        note("The shop shows payment code \(code) (cstore, store indomaret). The customer tells the cashier the code and pays in cash;", [
            "the till asks the payment network (here: the bank simulator) for the amount, takes the cash, and the network tells the gateway.",
            "Until then the order waits — a payment code is an account that takes exactly one payment of exactly this amount.",
        ])
        try await customer.payAtBank(code)
        try await webhookHandled(order.order_id, "settlement")
        try require(orderStatus(order.order_id) == .paid, "the order is \(orderStatus(order.order_id)?.rawValue ?? "missing"), not paid")
        await conclude("Paid at the counter: settlement at the gateway, the order is paid. Nothing about the customer crossed the network but a code.",
                       outcome: "paid")
        return DemoResult(succeeded: true, summary: "cstore: order \(order.order_id) paid at Indomaret with code \(code)")
    }

    func qris(_ customer: Customer) async throws -> DemoResult {
        note("The customer pays for kopi with QRIS: one QR code that any Indonesian e-wallet can pay")
        let order = try await customer.order("kopi", payment: ["type": "qris", "acquirer": "gopay"])
        guard let payload = order.qr_string, let transactionID = order.transaction_id else { throw Failure(description: "no QR string in the answer") }
        let image = try await running().client.get(try url(.gateway) + "/v2/qris/\(transactionID)/qr-code")
        try require(image.status == 200 && image.fields["Content-Type"] == "image/png", "the QR image answered \(image.status)")
        let fields = EMVPayload.fields(payload)
        let merchant = fields["26"].map(EMVPayload.fields) ?? [:]
        note("The shop shows the QR image (a \(image.body.count)-byte PNG the gateway drew from qr_string). The wallet app reads its payload,", [
            "EMVCo's merchant-presented layout: fields of ID, two-digit length, value —",
            "  00 payload format \(fields["00"] ?? "?"), 26 merchant account \(merchant["01"] ?? "?") (acquirer \(merchant["02"] ?? "?")),",
            "  53 currency \(fields["53"] ?? "?") (IDR), 54 amount \(fields["54"] ?? "?"), 58 country \(fields["58"] ?? "?"), 63 CRC-16 \(fields["63"] ?? "?").",
            "A wallet checks the CRC before it shows the amount: a mistyped or tampered code is refused on the phone.",
        ])
        guard let account = merchant["01"], EMVPayload.checksumMatches(payload) else { throw Failure(description: "the QR payload has no merchant account, or its CRC does not match") }
        try await customer.payAtBank(account)
        try await webhookHandled(order.order_id, "settlement")
        let status = try await shop().gateway(.get, "/v2/\(order.order_id)/status", nil).1
        await conclude("Paid by QR: issuer \(status["issuer"] as? String ?? "?"), \(status["transaction_type"] as? String ?? "?") (the acquirer's own wallet paid).",
                       outcome: "paid")
        return DemoResult(succeeded: true, summary: "qris: order \(order.order_id) paid by scanning the QR code")
    }
}
