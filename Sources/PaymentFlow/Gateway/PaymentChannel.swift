import Foundation

/// How a charge is paid, read from the charge's own object (`bank_transfer`, `echannel`,
/// `gopay`, `shopeepay`, `qris`, `cstore`; `akulaku` and `kredivo` have none), and how Midtrans
/// shows it: the message of the created transaction and the channel's own fields.
///
/// Every payment that waits for the customer is an account at the bank simulator that the
/// customer pays into — at the ATM (virtual accounts, Mandiri bill), in an e-wallet app
/// (GoPay, ShopeePay), by scanning a QR code (QRIS), at a shop's counter (Indomaret, Alfamart),
/// or by approving a pay-later plan (Akulaku, Kredivo). The channel names the account at the
/// bank, may ask for its number (a custom `va_number`), and decides what the merchant is shown.
enum PaymentChannel: Sendable, Equatable {
    case card
    /// `bank_transfer`: a bank's virtual account, with the merchant's own number if it asked
    /// for one, and BCA's `free_text` for the ATM screen.
    case virtualAccount(TransferBank, customNumber: String?, freeText: [String])
    /// `echannel`: Mandiri Bill Payment.
    case mandiriBill
    /// `gopay`, `shopeepay`: the customer approves in the app (a deeplink), or scans a QR.
    case eWallet(PaymentType, callbackURL: String?)
    /// `qris`: one QR code any e-wallet can pay; `acquirer` is who processes it.
    case qris(acquirer: QRISAcquirer)
    /// `cstore`: a payment code paid at a shop's counter.
    case convenienceStore(ConvenienceStore, message: String?)
    /// `akulaku`, `kredivo`: the customer is sent to the provider to approve an instalment plan.
    case payLater(PaymentType)

    /// `bank_transfer.bank`.
    enum TransferBank: String, Sendable, CaseIterable {
        case bca, bni, bri, permata, cimb

        /// How many digits a custom `va_number` may have (Midtrans' per-bank limits).
        var customNumberDigits: ClosedRange<Int> {
            switch self {
            case .bca: 1...11
            case .bni: 1...8
            case .bri: 1...13
            case .permata: 10...10
            case .cimb: 1...12
            }
        }
    }

    /// `qris.acquirer`.
    enum QRISAcquirer: String, Sendable, CaseIterable {
        case gopay
        case shopee = "airpay shopee"
    }

    /// `cstore.store`.
    enum ConvenienceStore: String, Sendable, CaseIterable {
        case indomaret, alfamart
    }

    /// Reads the channel of `type` from a charge body; every problem found is appended to
    /// `problems`, each naming its field (nil then).
    static func read(_ type: PaymentType, from body: [String: Any], problems: inout [String]) -> PaymentChannel? {
        let before = problems.count
        let channel: PaymentChannel
        switch type {
        case .creditCard:
            channel = .card
        case .bankTransfer:
            let object = body["bank_transfer"] as? [String: Any] ?? [:]
            // Required, as Midtrans' newest documentation says (older pages defaulted to Permata).
            guard let name = object["bank"] as? String else {
                problems.append("bank_transfer.bank is required")
                return nil
            }
            guard let bank = TransferBank(rawValue: name) else {
                problems.append("bank_transfer.bank is not supported: use bca, bni, bri, permata or cimb")
                return nil
            }
            var number: String?
            if let value = object["va_number"] {
                let text = value as? String ?? ""
                if !bank.customNumberDigits.contains(text.count) || !text.utf8.allSatisfy({ (48...57).contains($0) }) {
                    let digits = bank.customNumberDigits
                    let length = digits.count == 1 ? "\(digits.lowerBound)" : "\(digits.lowerBound) to \(digits.upperBound)"
                    problems.append("bank_transfer.va_number for \(bank.rawValue) must be \(length) digits")
                } else {
                    number = text
                }
            }
            channel = .virtualAccount(bank, customNumber: number, freeText: freeText(object["free_text"], bank: bank, problems: &problems))
        case .echannel:
            // Mandiri Bill: the two labels the customer's ATM shows are required.
            let echannel = body["echannel"] as? [String: Any] ?? [:]
            for name in ["bill_info1", "bill_info2"] where (echannel[name] as? String ?? "").isEmpty {
                problems.append("echannel.\(name) is required")
            }
            channel = .mandiriBill
        case .gopay, .shopeepay:
            let callback = (body[type.rawValue] as? [String: Any])?["callback_url"]
            if let callback, (callback as? String).map({ $0.isEmpty || $0.utf8.count > 255 }) ?? true {
                problems.append("\(type.rawValue).callback_url must be a URL of at most 255 characters")
            }
            channel = .eWallet(type, callbackURL: callback as? String)
        case .qris:
            let name = (body["qris"] as? [String: Any])?["acquirer"] as? String ?? QRISAcquirer.gopay.rawValue
            guard let acquirer = QRISAcquirer(rawValue: name) else {
                problems.append("qris.acquirer is not supported: use gopay or airpay shopee")
                return nil
            }
            channel = .qris(acquirer: acquirer)
        case .cstore:
            let object = body["cstore"] as? [String: Any] ?? [:]
            guard let name = object["store"] as? String else {
                problems.append("cstore.store is required")
                return nil
            }
            guard let store = ConvenienceStore(rawValue: name) else {
                problems.append("cstore.store is not supported: use indomaret or alfamart")
                return nil
            }
            let message = object["message"]
            if let message, (message as? String).map({ $0.utf8.count > 255 }) ?? true {
                problems.append("cstore.message must be a string of at most 255 characters")
            }
            channel = .convenienceStore(store, message: message as? String)
        case .akulaku, .kredivo:
            // The provider lends against the basket and the buyer: both are required.
            if body["item_details"] == nil { problems.append("item_details is required for \(type.rawValue)") }
            if body["customer_details"] == nil { problems.append("customer_details is required for \(type.rawValue)") }
            channel = .payLater(type)
        }
        return problems.count == before ? channel : nil
    }

    /// BCA's `free_text`: `{inquiry: [{id, en}], payment: [{id, en}]}`, at most 10 lines each
    /// and 50 characters a line, shown on the ATM's screen (here: kept with the account).
    private static func freeText(_ value: Any?, bank: TransferBank, problems: inout [String]) -> [String] {
        guard let value else { return [] }
        guard bank == .bca else {
            problems.append("bank_transfer.free_text is for bca only")
            return []
        }
        guard let object = value as? [String: Any] else {
            problems.append("bank_transfer.free_text must be an object with inquiry and payment")
            return []
        }
        var lines: [String] = []
        for part in ["inquiry", "payment"] {
            guard let list = object[part] else { continue }
            guard let entries = list as? [[String: Any]], entries.count <= 10 else {
                problems.append("bank_transfer.free_text.\(part) must be at most 10 entries of {id, en}")
                continue
            }
            for (index, entry) in entries.enumerated() {
                for language in ["id", "en"] {
                    guard let text = entry[language] as? String, !text.isEmpty, text.count <= 50 else {
                        problems.append("bank_transfer.free_text.\(part)[\(index)].\(language) must be 1 to 50 characters")
                        continue
                    }
                    lines.append("\(part) \(language): \(text)")
                }
            }
        }
        return lines
    }

    /// The account's name at the bank (`bca`, `mandiri`, `gopay`, `indomaret`, `akulaku`, …).
    var bankChannel: String {
        switch self {
        case .card: "card"
        case .virtualAccount(let bank, _, _): bank.rawValue
        case .mandiriBill: "mandiri"
        case .eWallet(let type, _), .payLater(let type): type.rawValue
        case .qris: "qris"
        case .convenienceStore(let store, _): store.rawValue
        }
    }

    /// The number the merchant asked the bank for, if any.
    var customNumber: String? {
        if case .virtualAccount(_, let number, _) = self { number } else { nil }
    }

    /// What the bank keeps with the account for the customer to see (BCA's ATM text, the
    /// shop's message at the counter).
    var accountNote: [String] {
        switch self {
        case .virtualAccount(_, _, let lines): lines
        case .convenienceStore(_, let message?): [message]
        default: []
        }
    }

    /// The `bank` field of the transaction (virtual accounts; cards name the acquiring bank).
    var bank: String? {
        switch self {
        case .card: "bni"
        case .virtualAccount(let bank, _, _): bank.rawValue
        default: nil
        }
    }

    /// How long the customer has by default (Midtrans: 15 minutes in an e-wallet or for a QR
    /// code, 2 hours for Akulaku, else 24 hours); the gateway's own setting caps it (compressed
    /// clocks). The merchant's `custom_expiry` overrides both.
    var defaultExpiry: Duration? {
        switch self {
        case .eWallet, .qris: .seconds(15 * 60)
        case .payLater(.akulaku): .seconds(2 * 3600)
        default: nil
        }
    }

    /// Midtrans' `status_message` for the created, waiting transaction.
    var createdMessage: String {
        switch self {
        case .card: "Success, Credit Card transaction is created"
        case .virtualAccount(.permata, _, _): "Success, PERMATA VA transaction is successful"
        case .virtualAccount: "Success, Bank Transfer transaction is created"
        case .mandiriBill: "OK, Mandiri Bill transaction is successful"
        case .eWallet(.shopeepay, _): "ShopeePay transaction is created"
        case .eWallet: "GoPay transaction is created"
        case .qris: "QRIS transaction is created"
        case .convenienceStore: "Success, cstore transaction is successful"
        case .payLater(.kredivo): "Kredivo transaction is created"
        case .payLater: "Success, Akulaku transaction is created"
        }
    }

    /// Writes what the merchant is shown of the bank's account `number` into `transaction`:
    /// the number's field for its kind, a QR string and the actions (links the merchant's page
    /// uses: the QR image, the app's deeplink, status, cancel), a pay-later redirect.
    /// `gateway` and `bank` are the services' base URLs as the customer reaches them.
    func show(account number: String, on transaction: inout GatewayTransaction, gateway: String, bank: String) {
        transaction.vaNumber = number
        let id = transaction.transactionID
        var actions: [[String: String]] = []
        func qr(acquirer: String) {
            transaction.extra["qr_string"] = EMVPayload.merchantPresented(account: number, amount: transaction.state.grossAmount, acquirer: acquirer)
            transaction.extra["acquirer"] = acquirer
            actions.append(["name": "generate-qr-code", "method": "GET", "url": "\(gateway)/v2/\(transaction.paymentType.rawValue)/\(id)/qr-code"])
        }
        switch self {
        case .card, .virtualAccount, .mandiriBill:
            return
        case .eWallet(.shopeepay, _):
            transaction.extra["channel_response_code"] = "0"
            transaction.extra["channel_response_message"] = "success"
            actions.append(["name": "deeplink-redirect", "method": "GET", "url": "\(bank)/pay/\(number)"])
        case .eWallet:
            qr(acquirer: "gopay")
            actions.append(["name": "deeplink-redirect", "method": "GET", "url": "gojek://gopay/merchanttransfer?tref=\(number)"])
            actions.append(["name": "get-status", "method": "GET", "url": "\(gateway)/v2/\(id)/status"])
            actions.append(["name": "cancel", "method": "POST", "url": "\(gateway)/v2/\(id)/cancel"])
        case .qris(let acquirer):
            qr(acquirer: acquirer.rawValue)
        case .convenienceStore(let store, _):
            transaction.extra["payment_code"] = number
            transaction.extra["store"] = store.rawValue
            return
        case .payLater(let provider):
            transaction.extra["redirect_url"] = "\(bank)/pay/\(number)"
            let kredivo = provider == .kredivo
            transaction.extra["channel_response_code"] = kredivo ? "OK" : ""
            transaction.extra["channel_response_message"] = kredivo ? "Success Create Transaction" : ""
            return
        }
        transaction.extra["actions"] = JSONText.text(actions)
    }

    /// What a waiting payment's settlement adds, as Midtrans' notifications show it:
    /// `settlement_time`; for virtual accounts `payment_amounts` (one payment of the whole
    /// amount: NetLab's accounts are closed-amount); for QRIS the `issuer` that paid and whether
    /// it was the acquirer itself (`transaction_type` on-us) or another wallet (off-us); for
    /// ShopeePay its reference numbers.
    static func settle(_ transaction: inout GatewayTransaction, at now: Date) {
        let time = Timestamp.midtrans(now)
        transaction.settlementTime = time
        switch transaction.paymentType {
        case .bankTransfer:
            let payment = [["paid_at": time, "amount": transaction.state.grossAmount.gatewayText]]
            transaction.extra["payment_amounts"] = JSONText.text(payment)
        case .qris:
            // The bank simulator's wallet pays every QR: the acquirer's own wallet when it is GoPay.
            let acquirer = transaction.extra["acquirer"] ?? "gopay"
            transaction.extra["issuer"] = "gopay"
            transaction.extra["transaction_type"] = acquirer == "gopay" ? "on-us" : "off-us"
        case .shopeepay:
            let digits = transaction.transactionID.unicodeScalars.filter { CharacterSet.decimalDigits.contains($0) }
            transaction.extra["shopeepay_reference_number"] = String(String.UnicodeScalarView(digits.prefix(18)))
            transaction.extra["reference_id"] = "DL-" + transaction.transactionID.prefix(8)
        default:
            break
        }
    }
}
