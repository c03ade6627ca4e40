// Fuzz target: the merchant's webhook check (ReferenceWebhookHandler: parse, verify the
// SHA-512 signature_key in constant time, confirm with the gateway, apply) on any body.
//
// Invariants: no crash or hang; a notification is called genuine only if its signature_key is
// the one the server key makes; nothing changes the shop's order unless it was signed and the
// gateway confirmed it; every answer is 200, 400, 401, 404 or 503.
import Foundation
import FuzzSupport
import PaymentFlow
import TCPSocket

/// A shop with one order, whose gateway confirms whatever the notification claims (the
/// strongest a forger could hope for: only the signature stands in the way).
final class FuzzShop: WebhookShop {
    let serverKey = PaymentSystemOptions.defaultServerKey
    let orders = Locked<[String: WebhookOrder]>([:])
    let claimed = Locked<[String: String]>([:])
    let changes = Locked(0)

    init(orderID: String, grossAmount: String) {
        orders.withLock { $0[orderID] = WebhookOrder(orderID: orderID, grossAmount: grossAmount, status: .awaitingPayment) }
    }

    func order(_ id: String) -> WebhookOrder? { orders.withLock { $0[id] } }

    func setStatus(_ status: OrderStatus, of id: String) -> Bool {
        changes.withLock { $0 += 1 }
        return orders.withLock { orders in
            guard orders[id] != nil, orders[id]?.status != status else { return false }
            orders[id]?.status = status
            return true
        }
    }

    func gatewayStatus(_ transactionID: String) async throws -> (httpStatus: Int, fields: [String: String]) {
        let order = orders.withLock { $0.values.first }!
        return (200, ["order_id": order.orderID, "gross_amount": order.grossAmount, "transaction_status": "settlement"])
    }
}

func fuzzWebhook(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = bytes(data, size)
    // The demo's first order (the seeds are its notifications).
    let shop = FuzzShop(orderID: "ORDER-101", grossAmount: "250000.00")
    let result = Locked<WebhookCheck?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let check = await ReferenceWebhookHandler().check(body, shop: shop)
        result.withLock { $0 = check }
        done.signal()
    }
    done.wait()
    let check = result.withLock { $0 }!
    Oracle.require([200, 400, 401, 404, 503].contains(check.httpStatus), "answered \(check.httpStatus)")
    if shop.changes.withLock({ $0 }) > 0 {
        Oracle.require(check.signatureValid, "the order changed on an unsigned notification")
    }
    if check.signatureValid {
        let note = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        let expected = NotificationSignature.compute(
            orderID: note["order_id"] as? String ?? "", statusCode: note["status_code"] as? String ?? "",
            grossAmount: note["gross_amount"] as? String ?? "", serverKey: shop.serverKey)
        Oracle.require((note["signature_key"] as? String)?.lowercased() == expected, "a signature_key that is not the server key's was accepted")
    }
    return 0
}
