// Lab 5 — Payments and webhooks. Write the merchant's notification endpoint; see README.md
// (English) or README.id.md (Bahasa Indonesia). Run `swift run lab check 5`.
import Foundation
import NetLabConformance
import PaymentFlow

public struct StudentWebhook: WebhookHandling {
    public init() {}

    /// The gateway POSTs a notification (JSON) for one of `shop`'s orders. Return the HTTP status
    /// to answer: 2xx = received (the gateway stops retrying); anything else = try again later.
    ///
    /// Step 1: parse the JSON; answer 400 if it is not a notification, 404 for an unknown order.
    /// Step 2: verify `signature_key` with `NotificationSignature.isValid` and `shop.serverKey`: 401 if wrong.
    /// Step 3: ask the gateway (`shop.gatewayStatus(transaction_id)`) and set the order's status
    ///         from *its* answer (`OrderStatus(transactionStatus:fraudStatus:)`, `shop.setStatus`) — never
    ///         from the notification.
    /// Step 4: answer 200 — also for duplicates and replays, which must change nothing.
    public func handle(_ body: [UInt8], shop: any WebhookShop) async -> Int {
        501  // Not Implemented: the gateway will keep retrying
    }
}
