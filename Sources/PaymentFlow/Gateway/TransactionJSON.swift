import Foundation

extension GatewayTransaction {
    /// The transaction as Midtrans shows it, in `GET /v2/{id}/status` answers and in
    /// notifications: string values, `gross_amount` with two decimals, and `signature_key`
    /// computed over the `status_code` the message itself carries.
    ///
    /// `statusCode` differs between the two: a status answer for an expired transaction says
    /// `407`, its notification `202` (the research notes' classic signature mismatch).
    func fields(statusCode: String, serverKey: String) -> [String: Any] {
        var object: [String: Any] = [
            "status_code": statusCode,
            "transaction_id": transactionID, "order_id": orderID, "merchant_id": merchantID,
            "gross_amount": state.grossAmount.gatewayText, "currency": "IDR", "payment_type": paymentType,
            "transaction_time": transactionTime, "transaction_status": state.status.rawValue,
            "signature_key": NotificationSignature.compute(
                orderID: orderID, statusCode: statusCode, grossAmount: state.grossAmount.gatewayText, serverKey: serverKey),
        ]
        if let fraud = state.fraud { object["fraud_status"] = fraud.rawValue }
        if let masked = maskedCard { object["masked_card"] = masked; object["card_type"] = "credit" }
        if let code = approvalCode { object["approval_code"] = code }
        if let expiry = expiryTime { object["expiry_time"] = expiry }
        if state.refunded.amount > 0 { object["refund_amount"] = state.refunded.gatewayText }
        if let bank { object["bank"] = bank }
        if let va = vaNumber {
            switch paymentType {
            case "echannel": object["bill_key"] = va; object["biller_code"] = "70012"
            case "bank_transfer" where bank == "permata": object["permata_va_number"] = va
            case "bank_transfer": object["va_numbers"] = [["bank": bank ?? "", "va_number": va]]
            default: break
            }
        }
        for (name, value) in extra where !Self.internalExtras.contains(name) {
            // Structured extras (e.g. gopay's `actions`) are stored as JSON text.
            if let data = value.data(using: .utf8), value.hasPrefix("[") || value.hasPrefix("{"),
                let structured = try? JSONSerialization.jsonObject(with: data)
            {
                object[name] = structured
            } else {
                object[name] = value
            }
        }
        return object
    }

    /// Extras the gateway keeps for itself, never shown to merchants (the fraud verdict of a card
    /// still waiting for 3-D Secure).
    static let internalExtras: Set<String> = ["fraud_verdict"]

    /// The `status_code` of `GET /v2/{id}/status` for this transaction.
    var statusAnswerCode: String { state.status == .expire ? "407" : state.statusCode }
}

/// The HTTP notification (webhook) the gateway sends for a change of a transaction.
public enum Webhook {
    /// The JSON body: the transaction's fields, `status_message` "midtrans payment notification",
    /// and `signature_key` over the notification's own `status_code` (200/201/202).
    static func body(for transaction: GatewayTransaction, serverKey: String) -> [UInt8] {
        var object = transaction.fields(statusCode: transaction.state.statusCode, serverKey: serverKey)
        object["status_message"] = "midtrans payment notification"
        return (try? JSONText.encode(object)) ?? Array("{}".utf8)
    }
}
