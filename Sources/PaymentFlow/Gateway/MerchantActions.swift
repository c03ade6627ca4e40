import Foundation
import NetLab

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
            case .cancel, .deny: ("200", "Success, transaction is canceled")
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

    /// A refund: `amount` (default: what is left) and `refund_key` (default: a new one). The
    /// same key again returns the first refund's answer and refunds nothing more; the key with
    /// another amount is refused. Both are decided in the same atomic step as the refund itself.
    func refund(id: String, body: [UInt8], merchant: MerchantAccount) async throws(GatewayError) -> [String: Any] {
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        var requested: Rupiah?
        if let given = object["amount"] {
            guard let parsed = ChargeRequest.amount(given), parsed.amount > 0 else { throw .validation(["amount must be a positive whole number"]) }
            requested = parsed
        }
        let key = object["refund_key"] as? String ?? UUID().uuidString.lowercased()
        guard !key.isEmpty, key.utf8.count <= 50, key.utf8.allSatisfy(ChargeRequest.isOrderIDByte) else {
            throw .validation(["refund_key may contain at most 50 letters, digits and - _ ~ ."])
        }
        let current = try ledger.find(merchantID: merchant.merchantID, id: id)
        let amount = requested ?? (current.state.grossAmount - current.state.refunded)
        let at = now()
        let transaction = try ledger.record(.refund(amount), merchantID: merchant.merchantID, id: id) {
            transaction throws(GatewayError) -> Bool in
            guard let earlier = transaction.refunds.first(where: { $0.refundKey == key }) else { return false }
            guard earlier.amount == amount else { throw .refundKeyReused(key) }
            return true
        } alongside: { transaction throws(GatewayError) in
            transaction.refunds.append(RefundRecord(refundKey: key, amount: amount, chargebackID: Timestamp.millis(at) * 10 + Int64(transaction.refunds.count),
                                                    createdAt: Timestamp.midtrans(at)))
        }
        if transaction.refundOwed { await obligations.settle(transaction) }
        let refund = transaction.refunds.first { $0.refundKey == key }
        var fields = transaction.fields(statusCode: transaction.statusAnswerCode, serverKey: merchant.serverKey)
        fields["status_code"] = "200"
        fields["status_message"] = "Success, refund request is approved"
        fields["refund_key"] = key
        fields["refund_amount"] = amount.gatewayText
        if let refund { fields["refund_chargeback_id"] = refund.chargebackID }
        return fields
    }
}
