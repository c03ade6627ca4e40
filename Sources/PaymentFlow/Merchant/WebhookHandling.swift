import Foundation

/// The merchant's webhook endpoint, as a seam: the gateway POSTs a notification; the handler
/// answers with an HTTP status. ``MerchantShop`` runs ``ReferenceWebhookHandler``; lab 5 runs a
/// student's handler in its place, against the same gateway, with the same checks.
public protocol WebhookHandling: Sendable {
    /// Handles one `POST /notifications` (its JSON body) for `shop`, and returns the status to
    /// answer: 2xx means "received" (the gateway stops retrying), anything else makes it retry.
    func handle(_ body: [UInt8], shop: any WebhookShop) async -> Int
}

/// What a webhook handler may ask of the shop around it.
public protocol WebhookShop: Sendable {
    /// The merchant's secret: what signs its notifications (`signature_key`).
    var serverKey: String { get }
    /// The shop's order, if it has one with this id.
    func order(_ id: String) -> WebhookOrder?
    /// Sets an order's status; false (and nothing changes) when it already is that status — a
    /// duplicate changes nothing.
    @discardableResult
    func setStatus(_ status: OrderStatus, of id: String) -> Bool
    /// `GET /v2/{transaction_id}/status` at the gateway, with this shop's server key: the truth
    /// about a transaction (its fields as strings: `order_id`, `gross_amount`,
    /// `transaction_status`, `fraud_status`, …). Throws if the gateway cannot be reached.
    func gatewayStatus(_ transactionID: String) async throws -> (httpStatus: Int, fields: [String: String])
}

/// An order as a webhook handler sees it.
public struct WebhookOrder: Sendable, Equatable {
    public var orderID: String
    /// `"25000.00"`: as the gateway writes `gross_amount`.
    public var grossAmount: String
    public var status: OrderStatus

    public init(orderID: String, grossAmount: String, status: OrderStatus) {
        self.orderID = orderID
        self.grossAmount = grossAmount
        self.status = status
    }
}

/// What checking one notification found (the shop's narration and counts come from it).
public struct WebhookCheck: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The gateway's truth moved the order.
        case applied
        /// The truth was already applied: nothing changed (a duplicate, a replay, a late one).
        case duplicate
        /// Refused, with the reason.
        case rejected(String)
    }

    /// The answer to give the gateway.
    public var httpStatus: Int
    public var orderID: String?
    /// The status the notification claims.
    public var notifiedStatus: String?
    public var signatureValid: Bool
    /// The status `GET status` confirmed.
    public var confirmedStatus: String?
    public var outcome: Outcome
}

/// NetLab's webhook handler: the four checks a merchant must make, which are also lab 5's.
///
/// 1. **Parse** the notification: not one → 400.
/// 2. **Verify** `signature_key` = SHA-512(order_id + status_code + gross_amount + server_key),
///    in constant time: a forgery (or an amount changed after signing) → 401, nothing changes.
///    An order this shop never had → 404 (checked after the signature: a forger learns nothing).
/// 3. **Confirm** with the gateway (`GET /v2/{id}/status`): its answer is the truth — a replayed
///    or late notification says less. Gateway unreachable → 503 (the gateway will retry); an
///    answer about another order or amount → 401.
/// 4. **Apply** the truth idempotently and answer 200 — a duplicate changes nothing.
public struct ReferenceWebhookHandler: WebhookHandling {
    public init() {}

    public func handle(_ body: [UInt8], shop: any WebhookShop) async -> Int {
        await check(body, shop: shop).httpStatus
    }

    public func check(_ body: [UInt8], shop: any WebhookShop) async -> WebhookCheck {
        guard let note = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
            let orderID = note["order_id"] as? String, let statusCode = note["status_code"] as? String,
            let gross = note["gross_amount"] as? String, let signature = note["signature_key"] as? String,
            let transactionID = note["transaction_id"] as? String
        else {
            return WebhookCheck(httpStatus: 400, signatureValid: false, outcome: .rejected("not a payment notification (400)"))
        }
        let notified = note["transaction_status"] as? String
        var check = WebhookCheck(httpStatus: 401, orderID: orderID, notifiedStatus: notified, signatureValid: false,
                                 outcome: .rejected("invalid signature_key (401)"))
        guard NotificationSignature.isValid(signature, orderID: orderID, statusCode: statusCode, grossAmount: gross, serverKey: shop.serverKey)
        else { return check }
        check.signatureValid = true
        // A genuine notification about an order this shop never placed (another shop on the
        // same merchant account, or a charge someone made with a stolen key): nothing to apply.
        guard let order = shop.order(orderID) else {
            (check.httpStatus, check.outcome) = (404, .rejected("no such order here (404)"))
            return check
        }
        guard let truth = try? await shop.gatewayStatus(transactionID) else {
            (check.httpStatus, check.outcome) = (503, .rejected("the gateway cannot be reached to confirm it (503)"))
            return check
        }
        check.confirmedStatus = truth.fields["transaction_status"]
        guard truth.httpStatus < 300 || truth.httpStatus == 407, truth.fields["order_id"] == orderID,
            truth.fields["gross_amount"] == order.grossAmount, let status = truth.fields["transaction_status"]
        else {
            (check.httpStatus, check.outcome) = (401, .rejected("the gateway does not confirm it (401)"))
            return check
        }
        let changed = shop.setStatus(OrderStatus(transactionStatus: status, fraudStatus: truth.fields["fraud_status"]), of: orderID)
        (check.httpStatus, check.outcome) = (200, changed ? .applied : .duplicate)
        return check
    }
}
