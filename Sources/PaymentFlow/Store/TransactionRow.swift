import Foundation

/// A transaction and an outbox entry as rows: the columns both engines store them in, and the
/// one encoding between the types and ``SQLValue``s (SQLite's and PostgreSQL's stores read and
/// write the same shapes).
enum TransactionRow {
    static let columns = """
        transaction_id, merchant_id, order_id, payment_type, status, fraud_status, gross_amount, refunded, is_card,
        transaction_time, bank, va_number, masked_card, approval_code, expiry_time, override_urls, append_urls, extra,
        authentication_id, announced, reversal_owed, charge_step, pending_fraud_status, settlement_time, refunds, refund_owed
        """
    static let columnCount = columns.split(separator: ",").count

    static func encode(_ t: GatewayTransaction) -> [SQLValue] {
        func optional(_ s: String?) -> SQLValue { s.map(SQLValue.text) ?? .null }
        func json(_ value: Any) -> String {
            (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        }
        let refunds = (try? JSONEncoder().encode(t.refunds)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        let step = t.charge.stored
        return [
            .text(t.transactionID), .text(t.merchantID), .text(t.orderID), .text(t.paymentType.rawValue), .text(t.state.status.rawValue),
            optional(t.state.fraud?.rawValue), .integer(t.state.grossAmount.amount), .integer(t.state.refunded.amount),
            .integer(t.state.isCard ? 1 : 0), .text(t.transactionTime), optional(t.bank), optional(t.vaNumber), optional(t.maskedCard),
            optional(t.approvalCode), optional(t.expiryTime), optional(t.overrideNotificationURLs.map(json)),
            .text(json(t.appendNotificationURLs)), .text(json(t.extra)), optional(t.authenticationID), .integer(t.announced ? 1 : 0),
            .integer(t.reversalOwed ? 1 : 0), .text(step.step), optional(step.fraud?.rawValue), optional(t.settlementTime),
            .text(refunds), .integer(t.refundOwed ? 1 : 0),
        ]
    }

    static func decode(_ row: [SQLValue]) throws -> GatewayTransaction {
        func strings(_ value: SQLValue) -> [String]? {
            value.text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] }
        }
        func corrupt(_ what: String) -> StoredRowError { StoredRowError(message: "unknown \(what) in a stored transaction") }
        guard let status = row[4].text.flatMap(TransactionStatus.init(rawValue:)) else { throw corrupt("transaction_status \(row[4])") }
        guard let type = row[3].text.flatMap(PaymentType.init(rawValue:)) else { throw corrupt("payment_type \(row[3])") }
        let pendingFraud = row[22].text.flatMap(FraudStatus.init(rawValue:))
        guard let charge = ChargeSaga(step: row[21].text ?? "finished", fraud: pendingFraud) else { throw corrupt("charge_step \(row[21])") }
        let state = TransactionState(
            status: status, fraud: row[5].text.flatMap(FraudStatus.init(rawValue:)), grossAmount: Rupiah(row[6].integer ?? 0),
            isCard: row[8].integer == 1, refunded: Rupiah(row[7].integer ?? 0))
        var t = GatewayTransaction(
            transactionID: row[0].text ?? "", orderID: row[2].text ?? "", merchantID: row[1].text ?? "", paymentType: type,
            state: state, transactionTime: row[9].text ?? "")
        t.bank = row[10].text
        t.vaNumber = row[11].text
        t.maskedCard = row[12].text
        t.approvalCode = row[13].text
        t.expiryTime = row[14].text
        t.overrideNotificationURLs = strings(row[15])
        t.appendNotificationURLs = strings(row[16]) ?? []
        t.extra = row[17].text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] } ?? [:]
        t.authenticationID = row[18].text
        t.announced = row[19].integer == 1
        t.reversalOwed = row[20].integer == 1
        t.charge = charge
        t.settlementTime = row[23].text
        t.refunds = row[24].text.flatMap { try? JSONDecoder().decode([RefundRecord].self, from: Data($0.utf8)) } ?? []
        return t
    }

    static let outboxColumns =
        "id, merchant_id, order_id, transaction_status, url, body, attempts, next_attempt_at, delivered_at, gave_up_at, last_result"

    static func decodeOutbox(_ row: [SQLValue]) -> OutboxEntry {
        var body: [UInt8] = []
        if case .blob(let bytes) = row[5] { body = bytes }
        return OutboxEntry(
            id: row[0].integer ?? 0, merchantID: row[1].text ?? "", orderID: row[2].text ?? "", transactionStatus: row[3].text ?? "",
            url: row[4].text ?? "", body: body, attempts: Int(row[6].integer ?? 0), nextAttemptAt: row[7].integer ?? 0,
            deliveredAt: row[8].integer, gaveUpAt: row[9].integer, lastResult: row[10].text)
    }
}

/// A stored row the store cannot read back (a value no version of NetLab writes).
public struct StoredRowError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
