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
            "gross_amount": state.grossAmount.gatewayText, "currency": "IDR", "payment_type": paymentType.rawValue,
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
        if let settled = settlementTime { object["settlement_time"] = settled }
        if !refunds.isEmpty {
            object["refunds"] = refunds.map { refund -> [String: Any] in
                ["refund_chargeback_id": refund.chargebackID, "refund_amount": refund.amount.gatewayText,
                 "created_at": refund.createdAt, "reason": "", "refund_key": refund.refundKey]
            }
        }
        if let va = vaNumber {
            switch paymentType {
            case .echannel: object["bill_key"] = va; object["biller_code"] = "70012"
            case .bankTransfer where bank == "permata": object["permata_va_number"] = va
            case .bankTransfer: object["va_numbers"] = [["bank": bank ?? "", "va_number": va]]
            case .creditCard, .gopay, .shopeepay, .qris, .cstore, .akulaku, .kredivo: break
            }
        }
        // Extras named with a leading `_` are the gateway's own (a linked wallet's token), never shown.
        for (name, value) in extra where !name.hasPrefix("_") {
            // Structured extras (gopay's `actions`, the merchant's `metadata`) are stored as JSON
            // text; every other extra is a string, whatever it looks like.
            if Self.structuredExtras.contains(name), let data = value.data(using: .utf8),
                let structured = try? JSONSerialization.jsonObject(with: data)
            {
                object[name] = structured
            } else {
                object[name] = value
            }
        }
        // A card is saved once its bank approved it: a declined or unfinished charge shows no
        // saved token (its record stays, unusable for anything the bank would not decline).
        if ![.capture, .settlement, .authorize, .refund, .partialRefund].contains(state.status) {
            object["saved_token_id"] = nil
            object["saved_token_id_expired_at"] = nil
        }
        return object
    }

    static let structuredExtras: Set<String> = ["actions", "metadata", "payment_amounts"]

    /// The `status_code` of `GET /v2/{id}/status` for this transaction: `407` for an expired
    /// one, `200` for a cancelled card (Midtrans reports the cancel of a card — a void — as a
    /// success), else the notification's code.
    var statusAnswerCode: String {
        switch state.status {
        case .expire: "407"
        case .cancel where state.isCard: "200"
        default: state.statusCode
        }
    }
}

/// The HTTP notification (webhook) the gateway sends for a change of a transaction.
enum Webhook {
    /// The JSON body: the transaction's fields, `status_message` "midtrans payment notification",
    /// and `signature_key` over the notification's own `status_code` (200/201/202).
    static func body(for transaction: GatewayTransaction, serverKey: String) -> [UInt8] {
        var object = transaction.fields(statusCode: transaction.state.statusCode, serverKey: serverKey)
        object["status_message"] = "midtrans payment notification"
        return (try? JSONText.encode(object)) ?? Array("{}".utf8)
    }

    /// One draft per destination: the merchant's notification URL unless the charge overrode it
    /// (`X-Override-Notification`), plus the appended ones (`X-Append-Notification`).
    static func drafts(for transaction: GatewayTransaction, merchant: MerchantAccount, dueAt: Int64) -> [WebhookDraft] {
        var urls = transaction.overrideNotificationURLs ?? merchant.notificationURL.map { [$0] } ?? []
        if transaction.overrideNotificationURLs == nil { urls += transaction.appendNotificationURLs }
        let body = body(for: transaction, serverKey: merchant.serverKey)
        return urls.filter { !$0.isEmpty }.map {
            WebhookDraft(url: $0, transactionStatus: transaction.state.status, body: body, dueAt: dueAt)
        }
    }
}
