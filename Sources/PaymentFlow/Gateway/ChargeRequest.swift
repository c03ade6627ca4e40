import Foundation
import NetLab

/// A `POST /v2/charge` body, checked against Midtrans' rules before anything is reserved: one
/// ``GatewayError/validation(_:)`` lists every problem found, each naming its field.
struct ChargeRequest: Sendable {
    var orderID: String
    var grossAmount: Rupiah
    var paymentType: PaymentType
    /// `bank_transfer.bank` (bca, bni, bri, permata).
    var bank: String?
    /// `credit_card.token_id`.
    var tokenID: String?
    /// `X-Override-Notification` / `X-Append-Notification`.
    var overrideNotificationURLs: [String]?
    var appendNotificationURLs: [String] = []

    /// The largest gross_amount accepted (keeps every sum far from overflow).
    static let maximumAmount = Rupiah(999_999_999_999)
    static let transferBanks: Set<String> = ["bca", "bni", "bri", "permata"]

    init(json body: [String: Any]) throws(GatewayError) {
        let details = body["transaction_details"] as? [String: Any] ?? [:]
        var problems: [String] = []
        let orderID = details["order_id"] as? String ?? ""
        problems += Self.orderIDProblems(orderID)
        let gross = Self.amount(details["gross_amount"])
        if gross == nil || gross!.amount <= 0 {
            problems.append("transaction_details.gross_amount must be a whole number greater than 0")
        } else if gross! > Self.maximumAmount {
            problems.append("transaction_details.gross_amount is too large")
        }
        let typeName = body["payment_type"] as? String ?? ""
        let type = PaymentType(rawValue: typeName)
        if type == nil { problems.append("payment_type is not supported: \(typeName)") }
        var bank: String?
        if type == .bankTransfer {
            bank = (body["bank_transfer"] as? [String: Any])?["bank"] as? String ?? "permata"
            if !Self.transferBanks.contains(bank!) { problems.append("bank_transfer.bank is not supported") }
        }
        guard problems.isEmpty, let gross, let type else { throw .validation(problems) }
        self.orderID = orderID
        self.grossAmount = gross
        self.paymentType = type
        self.bank = bank
        self.tokenID = (body["credit_card"] as? [String: Any])?["token_id"] as? String
    }

    /// Midtrans: `order_id` is required, at most 50 characters of `A-Z a-z 0-9 - _ ~ .`. Checked
    /// before anything is stored (a NUL byte, say, would otherwise cut the id short in storage).
    static func orderIDProblems(_ orderID: String) -> [String] {
        if orderID.isEmpty { return ["transaction_details.order_id is required"] }
        var problems: [String] = []
        if orderID.utf8.count > 50 { problems.append("transaction_details.order_id may not be greater than 50 characters") }
        if !orderID.utf8.allSatisfy(isOrderIDByte) {
            problems.append("transaction_details.order_id may contain only letters, digits and - _ ~ .")
        }
        return problems
    }

    static func isOrderIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "."): true
        default: false
        }
    }

    /// `gross_amount` as JSON sends it: an integer, or a string such as `"10000"` / `"10000.00"`.
    static func amount(_ value: Any?) -> Rupiah? {
        if let number = value as? NSNumber { return Rupiah(parsing: number.stringValue) }
        if let text = value as? String { return Rupiah(parsing: text) }
        return nil
    }

    /// `X-Override-Notification` / `X-Append-Notification`: at most 3 http(s) URLs each.
    mutating func readNotificationTargets(_ request: HTTPRequest) throws(GatewayError) {
        func urls(_ name: String) throws(GatewayError) -> [String]? {
            guard let value = request.fields[name] else { return nil }
            let list = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard list.count <= 3, list.allSatisfy({ (try? HTTPURL($0)) != nil }) else {
                throw .validation(["\(name) must be at most 3 comma-separated http(s) URLs"])
            }
            return list
        }
        overrideNotificationURLs = try urls("X-Override-Notification")
        appendNotificationURLs = try urls("X-Append-Notification") ?? []
    }
}
