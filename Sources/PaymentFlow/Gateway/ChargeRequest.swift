import Foundation
import NetLab

/// A `POST /v2/charge` body, checked against Midtrans' rules before anything is reserved: one
/// ``GatewayError/validation(_:)`` lists every problem found, each naming its field.
struct ChargeRequest: Sendable {
    var orderID: String
    var grossAmount: Rupiah
    var paymentType: PaymentType
    /// How it is paid: the payment type's own object (bank, store, acquirer, custom number…).
    var channel: PaymentChannel
    /// `credit_card.token_id`.
    var tokenID: String?
    /// `credit_card.type: authorize`: hold the money; the merchant captures it later.
    var preauthorize = false
    /// `credit_card.authentication`: 3-D Secure asked for (an enrolled card then waits for the OTP).
    var authentication = false
    /// Whether `token_id` may be a saved card (charged with no CVV): the merchant's own server
    /// may; a payment page may not (anyone holding a page could charge a card on file).
    var allowsSavedCard = true
    /// `credit_card.save_token_id`: keep the card for later charges (`saved_token_id` in the answer).
    var saveCard = false
    /// `credit_card.installment_term`: months of an instalment plan (echoed; the bank is paid at once).
    var installmentTerm: Int?
    /// `credit_card.bins`: only cards starting with one of these digits, or issued by one of
    /// these banks, may pay.
    var bins: [String]?
    /// `custom_expiry`: when a waiting payment expires (from `order_time`, default now); nil:
    /// the gateway's default (24 h).
    var customExpiry: (from: Date?, lasts: Duration)?
    /// `custom_field1`…`custom_field3` and `metadata` (as JSON text): echoed in status answers
    /// and notifications.
    var echoed: [String: String] = [:]
    /// `gopay.account_id` and `gopay.payment_option_token`: pay from a linked GoPay wallet.
    var linkedWallet: (accountID: String, token: String)?
    /// `gopay.recurring`: a merchant-initiated charge of a linked wallet (a subscription): no PIN.
    var recurring = false
    /// `X-Override-Notification` / `X-Append-Notification`.
    var overrideNotificationURLs: [String]?
    var appendNotificationURLs: [String] = []

    /// The largest gross_amount accepted (keeps every sum far from overflow).
    static let maximumAmount = Rupiah(999_999_999_999)

    /// Reads a request body: JSON (RFC 8259) in UTF-8 holding one object.
    ///
    /// `null` is what the official SDKs send for no parameters; Midtrans answers it 500 and the
    /// SDKs' tests pin that (``GatewayError/chargeBodyNotAnObject``). Anything else that is not
    /// a JSON object is 400. The fuzz target `charge-json` feeds this any bytes.
    init(body: [UInt8]) throws(GatewayError) {
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) else {
            throw GatewayError.malformedBody("the body is not JSON (RFC 8259) in UTF-8")
        }
        if parsed is NSNull { throw GatewayError.chargeBodyNotAnObject }
        guard let object = parsed as? [String: Any] else { throw GatewayError.malformedBody("the body must be a JSON object") }
        try self.init(json: object)
    }

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
        let channel = type.flatMap { PaymentChannel.read($0, from: body, problems: &problems) }
        if let gross { problems += Self.itemProblems(body["item_details"], gross: gross) }
        problems += Self.customerProblems(body["customer_details"])
        let echoed = Self.echoedFields(body, problems: &problems)
        if let cardType = (body["credit_card"] as? [String: Any])?["type"], ![ "authorize", "authorize_capture"].contains(cardType as? String ?? "") {
            problems.append("credit_card.type must be authorize or authorize_capture")
        }
        let cardObject = body["credit_card"] as? [String: Any] ?? [:]
        var installmentTerm: Int?, bins: [String]?
        if let value = cardObject["installment_term"] {
            if let term = (value as? NSNumber)?.intValue ?? (value as? String).flatMap({ Int($0) }), (1...36).contains(term) {
                installmentTerm = term
            } else {
                problems.append("credit_card.installment_term must be a whole number of months from 1 to 36")
            }
        }
        if let value = cardObject["bins"] {
            if let list = value as? [String], !list.isEmpty, list.count <= 100, list.allSatisfy({ entry in
                (1...8).contains(entry.count) && (entry.allSatisfy { $0.isASCII && $0.isNumber } || entry.allSatisfy { $0.isASCII && $0.isLetter })
            }) {
                bins = list.map { $0.lowercased() }
            } else {
                problems.append("credit_card.bins must be a list of BIN prefixes (1 to 8 digits) or bank names")
            }
        }
        var linkedWallet: (accountID: String, token: String)?
        if type == .gopay, let gopay = body["gopay"] as? [String: Any], gopay["account_id"] != nil || gopay["payment_option_token"] != nil {
            if let id = gopay["account_id"] as? String, let token = gopay["payment_option_token"] as? String, !id.isEmpty, !token.isEmpty {
                linkedWallet = (id, token)
            } else {
                problems.append("gopay.account_id and gopay.payment_option_token go together")
            }
        }
        var customExpiry: (from: Date?, lasts: Duration)?
        if let value = body["custom_expiry"] {
            switch Self.expiry(value, field: "custom_expiry", start: "order_time", duration: "expiry_duration") {
            case .success(let expiry): customExpiry = expiry
            case .failure(let problem): problems.append(problem.message)
            }
        }
        guard problems.isEmpty, let gross, let type, let channel else { throw .validation(problems) }
        self.echoed = echoed
        self.customExpiry = customExpiry
        self.orderID = orderID
        self.grossAmount = gross
        self.paymentType = type
        self.channel = channel
        let card = body["credit_card"] as? [String: Any]
        self.tokenID = card?["token_id"] as? String
        self.preauthorize = card?["type"] as? String == "authorize"
        self.authentication = (card?["authentication"] as? NSNumber)?.boolValue ?? false
        self.saveCard = (card?["save_token_id"] as? NSNumber)?.boolValue ?? false
        self.installmentTerm = installmentTerm
        self.bins = bins
        self.linkedWallet = linkedWallet
        self.recurring = ((body["gopay"] as? [String: Any])?["recurring"] as? NSNumber)?.boolValue ?? false
    }

    /// `custom_field1`…`custom_field3` (strings of at most 255 characters) and `metadata` (a
    /// JSON object of at most 1024 bytes, kept as its text): what answers and notifications echo.
    static func echoedFields(_ body: [String: Any], problems: inout [String]) -> [String: String] {
        var echoed: [String: String] = [:]
        for name in ["custom_field1", "custom_field2", "custom_field3"] {
            guard let value = body[name] else { continue }
            guard let text = value as? String, text.utf8.count <= 255, !text.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                problems.append("\(name) must be a string of at most 255 characters")
                continue
            }
            echoed[name] = text
        }
        if let metadata = body["metadata"] {
            if let object = metadata as? [String: Any], let text = try? JSONText.encode(object), text.count <= 1024 {
                echoed["metadata"] = String(decoding: text, as: UTF8.self)
            } else {
                problems.append("metadata must be a JSON object of at most 1024 bytes")
            }
        }
        return echoed
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

    /// `item_details`: when sent, each item's `price` × `quantity` must add up to `gross_amount`.
    static func itemProblems(_ value: Any?, gross: Rupiah) -> [String] {
        guard let value else { return [] }
        guard let items = value as? [[String: Any]] else { return ["item_details must be an array of items"] }
        var sum: Int64 = 0
        for (index, item) in items.enumerated() {
            guard let price = item["price"].flatMap({ amount($0) }), let quantity = (item["quantity"] as? NSNumber)?.int64Value,
                quantity > 0, quantity <= 1_000_000
            else { return ["item_details[\(index)] needs a whole price and a positive quantity"] }
            let (line, overflow) = price.amount.multipliedReportingOverflow(by: quantity)
            guard !overflow, line <= maximumAmount.amount else { return ["item_details[\(index)] is too large"] }
            sum += line
            guard sum <= maximumAmount.amount else { return ["item_details add up to more than the largest gross_amount"] }
        }
        return sum == gross.amount ? [] : ["transaction_details.gross_amount is not equal to the sum of item_details"]
    }

    /// `customer_details`: an e-mail address and a phone number, when given, must look like one.
    static func customerProblems(_ value: Any?) -> [String] {
        guard let customer = value as? [String: Any] else { return value == nil ? [] : ["customer_details must be an object"] }
        var problems: [String] = []
        if let email = customer["email"] {
            let text = email as? String ?? ""
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            if parts.count != 2 || parts[0].isEmpty || !parts[1].contains(".") || parts[1].hasPrefix(".") || parts[1].hasSuffix(".")
                || text.contains(where: { $0 == " " || $0.asciiValue.map { $0 < 0x21 } ?? false }) || text.utf8.count > 255 {
                problems.append("customer_details.email format is invalid")
            }
        }
        if let phone = customer["phone"] {
            let text = (phone as? String ?? "").filter { $0 != " " && $0 != "-" }
            let digits = text.hasPrefix("+") ? text.dropFirst() : Substring(text)
            if digits.count < 5 || digits.count > 19 || !digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
                problems.append("customer_details.phone format is invalid")
            }
        }
        return problems
    }

    struct Problem: Error { var message: String }

    /// An expiry object: `{<start>: "YYYY-MM-DD HH:MM:SS +0700", <duration>: n, unit: second |
    /// minute | hour | day}` (Core's `custom_expiry`; Snap's `expiry` has `start_time`, `duration`
    /// and plural units too). The start is optional (now).
    static func expiry(_ value: Any, field: String, start: String, duration: String) -> Result<(from: Date?, lasts: Duration), Problem> {
        guard let object = value as? [String: Any] else { return .failure(Problem(message: "\(field) must be an object")) }
        guard let count = (object[duration] as? NSNumber)?.int64Value, count > 0, count <= 365 * 24 * 3600 else {
            return .failure(Problem(message: "\(field).\(duration) must be a whole number greater than 0"))
        }
        let seconds: Int64
        switch (object["unit"] as? String ?? "").lowercased() {
        case "second", "seconds": seconds = 1
        case "minute", "minutes": seconds = 60
        case "hour", "hours": seconds = 3600
        case "day", "days": seconds = 86400
        default: return .failure(Problem(message: "\(field).unit must be second, minute, hour or day"))
        }
        var from: Date?
        if let text = object[start] {
            guard let parsed = (text as? String).flatMap(Timestamp.parseMidtrans) else {
                return .failure(Problem(message: "\(field).\(start) must be like 2026-12-06 10:00:00 +0700"))
            }
            from = parsed
        }
        return .success((from, .seconds(count * seconds)))
    }

    /// `gross_amount` as JSON sends it: an integer, or a string such as `"10000"` / `"10000.00"`.
    static func amount(_ value: Any?) -> Rupiah? {
        if let number = value as? NSNumber {
            // `true` arrives as a number too; it is no amount.
            if isBoolean(number) { return nil }
            return Rupiah(parsing: number.stringValue)
        }
        if let text = value as? String { return Rupiah(parsing: text) }
        return nil
    }

    /// Whether a parsed JSON number is really `true` or `false` (Foundation gives booleans as
    /// numbers; their type code is `c`, which no JSON number gets).
    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    /// `X-Override-Notification` / `X-Append-Notification`: at most 3 http(s) URLs each.
    struct Targets {
        var overrideURLs: [String]?
        var appendURLs: [String] = []

        mutating func read(_ request: HTTPRequest) throws(GatewayError) {
            func urls(_ name: String) throws(GatewayError) -> [String]? {
                guard let value = request.fields[name] else { return nil }
                let list = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                guard list.count <= 3, list.allSatisfy({ (try? HTTPURL($0)) != nil }) else {
                    throw .validation(["\(name) must be at most 3 comma-separated http(s) URLs"])
                }
                return list
            }
            overrideURLs = try urls("X-Override-Notification")
            appendURLs = try urls("X-Append-Notification") ?? []
        }
    }

    mutating func readNotificationTargets(_ request: HTTPRequest) throws(GatewayError) {
        var targets = Targets()
        try targets.read(request)
        (overrideNotificationURLs, appendNotificationURLs) = (targets.overrideURLs, targets.appendURLs)
    }
}
