import Foundation
import NetLab
import TLSWrapper

/// What a merchant's back office asks of a transaction: `POST /v2/{id}/cancel`, `approve`,
/// `deny`, `expire` and `refund` (also `refund/online/direct`). Each is one event through the
/// ledger — so a cancel racing a capture, or two refunds, cannot both win — and whatever the
/// change owes the bank (a void, a closed account, a refund) is settled at once, and by the
/// timers until the bank confirms.
struct MerchantActions: Sendable {
    let ledger: TransactionLedger
    let obligations: BankObligations
    let now: @Sendable () -> Date

    enum Action: String, CaseIterable, Sendable {
        case cancel, approve, deny, expire

        var event: TransactionState.Event {
            switch self {
            case .cancel: .cancel
            case .approve: .approve
            case .deny: .deny
            case .expire: .expire
            }
        }

        /// Midtrans' answer: `status_code` and `status_message`.
        var answer: (code: String?, message: String) {
            switch self {
            case .cancel: ("200", "Success, transaction is canceled")
            case .deny: ("200", "Success, transaction is denied")
            case .approve: (nil, "Success, transaction is approved")
            case .expire: (nil, "Success, transaction has expired")
            }
        }
    }

    func perform(_ action: Action, id: String, merchant: MerchantAccount) async throws(GatewayError) -> [String: Any] {
        let transaction = try ledger.record(action.event, merchantID: merchant.merchantID, id: id)
        if transaction.reversalOwed { await obligations.settle(transaction) }
        var fields = transaction.fields(statusCode: transaction.statusAnswerCode, serverKey: merchant.serverKey)
        if let code = action.answer.code { fields["status_code"] = code }
        fields["status_message"] = action.answer.message
        return fields
    }

    /// A refund: `amount` (default: what is left) and `refund_key` (default: derived from the
    /// request's `Idempotency-Key` when it has one, so a retried request cannot refund twice;
    /// else a new one). The same key again returns the first refund's answer and refunds nothing
    /// more (with no amount, or the same one); the key with another amount is refused. All of it
    /// — the default amount too — is decided in the same atomic step as the refund itself.
    func refund(id: String, body: [UInt8], idempotencyKey: String?, merchant: MerchantAccount) async throws(GatewayError) -> [String: Any] {
        var object: [String: Any] = [:]
        if !body.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) {
            // A body that is there but is no JSON object is a mistake, never "refund everything".
            guard let parsed = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
                throw .malformedBody("a refund is a JSON object: {\"amount\", \"refund_key\", \"reason\"}, all optional")
            }
            object = parsed
        }
        var requested: Rupiah?
        if let given = object["amount"] {
            guard let parsed = ChargeRequest.amount(given), parsed.amount > 0 else { throw .validation(["amount must be a positive whole number"]) }
            requested = parsed
        }
        let key: String
        if let given = object["refund_key"] {
            guard let text = given as? String, !text.isEmpty, text.utf8.count <= 50, text.utf8.allSatisfy(ChargeRequest.isOrderIDByte) else {
                throw .validation(["refund_key may contain at most 50 letters, digits and - _ ~ ."])
            }
            key = text
        } else if let idempotencyKey {
            key = "idem-" + String(Digest.sha512Hex(Array(idempotencyKey.utf8)).prefix(40))
        } else {
            key = UUID().uuidString.lowercased()
        }
        let at = now()
        let transaction = try ledger.record(deciding: { stored in
            .refund(requested ?? (stored.state.grossAmount - stored.state.refunded))
        }, merchantID: merchant.merchantID, id: id, alreadyDone: { stored throws(GatewayError) -> Bool in
            guard let earlier = stored.refunds.first(where: { $0.refundKey == key }) else { return false }
            guard requested == nil || earlier.amount == requested else { throw .refundKeyReused(key) }
            return true
        }, alongside: { stored throws(GatewayError) in
            // What this refund added: the state already counts it, the records not yet.
            let amount = stored.state.refunded - stored.refunds.reduce(Rupiah.zero) { $0 + $1.amount }
            stored.refunds.append(RefundRecord(refundKey: key, amount: amount, chargebackID: Timestamp.millis(at) * 10 + Int64(stored.refunds.count),
                                               createdAt: Timestamp.midtrans(at)))
        })
        if transaction.refundOwed { await obligations.settle(transaction) }
        let refund = transaction.refunds.first { $0.refundKey == key }
        var fields = transaction.fields(statusCode: transaction.statusAnswerCode, serverKey: merchant.serverKey)
        fields["status_code"] = "200"
        fields["status_message"] = "Success, refund request is approved"
        fields["refund_key"] = key
        if let refund {
            fields["refund_amount"] = refund.amount.gatewayText
            fields["refund_chargeback_id"] = refund.chargebackID
        }
        return fields
    }

    /// `POST /v2/capture` `{transaction_id, gross_amount}`: takes the money a pre-authorisation
    /// holds. The whole amount: the bank holds exactly that, and a partial capture would have to
    /// release the rest (not simulated; refused with the rule named).
    func capture(body: [UInt8], merchant: MerchantAccount) async throws(GatewayError) -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
            let id = object["transaction_id"] as? String, !id.isEmpty
        else { throw .validation(["transaction_id is required"]) }
        let requested = object["gross_amount"].map { ChargeRequest.amount($0) }
        if case .some(.none) = requested { throw .validation(["gross_amount must be a whole number"]) }
        let transaction = try ledger.record(.capture, merchantID: merchant.merchantID, id: id, alongside: { stored throws(GatewayError) in
            if let amount = requested ?? nil, amount != stored.state.grossAmount {
                throw .validation(["gross_amount must be the authorized amount (\(stored.state.grossAmount.gatewayText)): partial capture is not supported"])
            }
            stored.expiryTime = nil
        })
        var fields = transaction.fields(statusCode: transaction.state.statusCode, serverKey: merchant.serverKey)
        fields["status_message"] = "Success, Credit Card capture transaction is successful"
        return fields
    }
}
