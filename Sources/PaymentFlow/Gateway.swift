import Foundation
import HTTPParser
import NetLab
import Synchronization

/// A merchant account at the gateway: its keys decide who may charge and see what.
public struct MerchantAccount: Hashable, Sendable {
    public var merchantID: String
    public var serverKey: String
    public var clientKey: String

    public init(merchantID: String, serverKey: String, clientKey: String) {
        self.merchantID = merchantID
        self.serverKey = serverKey
        self.clientKey = clientKey
    }
}

/// One payment as the gateway records it.
public struct GatewayTransaction: Sendable {
    public var transactionID: String
    public var orderID: String
    public var merchantID: String
    public var paymentType: String
    public var state: TransactionState
    public var transactionTime: String
    public var bank: String?
    public var vaNumber: String?
    public var maskedCard: String?
    public var approvalCode: String?
    /// The bank's 3-D Secure authentication waiting for the OTP.
    var authenticationID: String?
}

/// Where the gateway keeps transactions: today in memory, a durable store (SQLite) plugs in here.
public protocol TransactionStore: Sendable {
    /// The transaction with this transaction id or order id (the latest for a reused order id).
    func find(merchantID: String, id: String) -> GatewayTransaction?
    /// Records `transaction` unless its order id is taken by one that is not cancelled or expired;
    /// false when taken. Atomic: two charges with one order id cannot both be reserved.
    func reserve(_ transaction: GatewayTransaction) -> Bool
    /// Reads, changes and writes one transaction atomically; nil if there is none.
    func update<R>(merchantID: String, id: String, _ change: (inout GatewayTransaction) throws -> R) rethrows -> R?
}

/// The in-memory store: fast, and gone when the process ends.
public final class MemoryTransactionStore: TransactionStore {
    private struct Tables {
        var byID: [String: GatewayTransaction] = [:]  // key: merchant/transaction id
        var latestByOrder: [String: String] = [:]  // key: merchant/order id → transaction id
    }
    private let tables = Mutex(Tables())

    public init() {}

    private static func key(_ merchant: String, _ id: String) -> String { merchant + "/" + id }

    public func find(merchantID: String, id: String) -> GatewayTransaction? {
        tables.withLock { t in
            if let byID = t.byID[Self.key(merchantID, id)] { return byID }
            return t.latestByOrder[Self.key(merchantID, id)].flatMap { t.byID[Self.key(merchantID, $0)] }
        }
    }

    public func reserve(_ transaction: GatewayTransaction) -> Bool {
        tables.withLock { t in
            let orderKey = Self.key(transaction.merchantID, transaction.orderID)
            if let current = t.latestByOrder[orderKey].flatMap({ t.byID[Self.key(transaction.merchantID, $0)] }),
                ![.cancel, .expire, .failure].contains(current.state.status)
            {
                return false
            }
            t.byID[Self.key(transaction.merchantID, transaction.transactionID)] = transaction
            t.latestByOrder[orderKey] = transaction.transactionID
            return true
        }
    }

    public func update<R>(merchantID: String, id: String, _ change: (inout GatewayTransaction) throws -> R) rethrows -> R? {
        try tables.withLock { t in
            let transactionID = t.byID[Self.key(merchantID, id)] != nil ? id : t.latestByOrder[Self.key(merchantID, id)]
            guard let transactionID, var transaction = t.byID[Self.key(merchantID, transactionID)] else { return nil }
            let result = try change(&transaction)
            t.byID[Self.key(merchantID, transactionID)] = transaction
            return result
        }
    }
}

/// The gateway's payment service: Midtrans' Core API (the subset the payment flow needs) on
/// NetLab's HTTP server, asking the bank over HTTPS.
///
/// Implemented today: `GET /v2/token`, `POST /v2/charge` (credit_card with token_id, including
/// 3-D Secure; bank_transfer bca/bni/bri/permata), `GET /v2/{id}/status`,
/// `POST /v2/{id}/cancel|approve|deny|expire|refund`, and `POST /v2/3ds/{transaction_id}` (the OTP
/// page's target). HTTP Basic auth with the server key; JSON with Midtrans' field names and
/// string values; HTTP status 200 for body codes 200/201/202/407, the body code otherwise.
/// Fraud rules here are the sandbox cards' outcomes (the separate fraud service comes later).
public final class Gateway: Sendable {
    let merchants: [MerchantAccount]
    let store: any TransactionStore
    let bankURL: String
    let bankClient: HTTPClient
    /// This gateway's own base URL, for 3-D Secure redirect URLs (set once the port is known).
    private let publicBase: Mutex<String>
    private let tokens = Mutex<[String: (card: String, merchant: String)]>([:])

    public init(merchants: [MerchantAccount], store: any TransactionStore = MemoryTransactionStore(), bankURL: String,
                bankClient: HTTPClient, publicURL: String) {
        self.merchants = merchants
        self.store = store
        self.bankURL = bankURL
        self.bankClient = bankClient
        self.publicBase = Mutex(publicURL)
    }

    /// The gateway's base URL as clients reach it (e.g. after binding port 0).
    public var publicURL: String {
        get { publicBase.withLock { $0 } }
        set { publicBase.withLock { $0 = newValue } }
    }

    public var router: Router {
        var router = Router()
        router.get("/v2/token", guarded { [self] request in try token(request) })
        router.post("/v2/charge", guarded { [self] request in try await charge(request, merchant: try authenticate(request)) })
        router.get("/v2/{id}/status", guarded { [self] request in
            let merchant = try authenticate(request)
            return try answer(status(of: try existing(request, merchant)))
        })
        for (action, event) in [("cancel", TransactionState.Event.cancel), ("approve", .approve), ("deny", .deny), ("expire", .expire)] {
            router.post("/v2/{id}/\(action)", guarded { [self] request in
                let merchant = try authenticate(request)
                return try answer(apply(event, to: try existing(request, merchant)))
            })
        }
        router.post("/v2/{id}/refund", guarded { [self] request in
            let merchant = try authenticate(request)
            let transaction = try existing(request, merchant)
            let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
            // No amount: refund the rest. An amount that is not a positive whole number: 400.
            var amount = Rupiah(transaction.state.grossAmount.amount - transaction.state.refunded.amount)
            if let given = body["amount"] {
                guard let parsed = Self.amount(given), parsed.amount > 0 else {
                    throw MidtransError(code: "400", message: "One or more parameters in the payload is invalid.", validation: ["amount must be a positive whole number"])
                }
                amount = parsed
            }
            return try answer(apply(.refund(amount), to: transaction))
        })
        router.post("/v2/3ds/{id}", guarded { [self] request in try await verifyOTP(request) })
        // Every answer is JSON, unknown routes included (a client SDK parses every body).
        router.fallback = guarded { _ in throw MidtransError(code: "404", message: "The requested resource is not found") }
        return router
    }

    /// Server configuration for the gateway: its error answers (404, 405, 408, parse errors) are
    /// JSON in Midtrans' shape too, because the official SDKs parse every body as JSON.
    public static var serverConfiguration: HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration()
        configuration.errorBody = { error in
            let object: [String: Any] = ["status_code": String(error.status), "status_message": error.message, "id": UUID().uuidString.lowercased()]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return HTTPResponse(status: error.status, fields: HTTPFields(["Content-Type": "application/json"]), body: .bytes(Array(data)))
        }
        return configuration
    }

    /// Turns Midtrans errors into their JSON answer: `{"status_code", "status_message", "id",
    /// "validation_messages"?}` with the same HTTP status.
    func guarded(_ body: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) -> HTTPHandler {
        { request in
            do {
                return try await body(request)
            } catch {
                // Every failure answers JSON: a client SDK parses every body.
                let error = error as? MidtransError ?? MidtransError(code: "500", message: "An unexpected error occurred")
                var object: [String: Any] = ["status_code": error.code, "status_message": error.message, "id": UUID().uuidString.lowercased()]
                if !error.validation.isEmpty { object["validation_messages"] = error.validation }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                return HTTPResponse(status: Int(error.code) ?? 500, fields: HTTPFields(["Content-Type": "application/json"]), body: .bytes(Array(data)))
            }
        }
    }

    // MARK: Authentication

    /// HTTP Basic with the server key as user name and an empty password.
    func authenticate(_ request: HTTPRequest) throws -> MerchantAccount {
        guard let header = request.fields["Authorization"], header.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
            let key = decoded.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first,
            let merchant = Self.merchant(in: merchants, key: String(key), \.serverKey)
        else {
            throw MidtransError(code: "401", message: "Unknown Merchant server_key/id")
        }
        return merchant
    }

    func existing(_ request: HTTPRequest, _ merchant: MerchantAccount) throws -> GatewayTransaction {
        guard let transaction = store.find(merchantID: merchant.merchantID, id: request.pathParameters["id"] ?? "") else {
            throw MidtransError(code: "404", message: "Transaction doesn't exist.")
        }
        return transaction
    }

    // MARK: Card tokens

    func token(_ request: HTTPRequest) throws -> HTTPResponse {
        let query = request.queryParameters
        let byClientKey = query["client_key"].flatMap { Self.merchant(in: merchants, key: $0, \.clientKey) }
        guard let merchant = byClientKey ?? (try? authenticate(request)) else {
            throw MidtransError(code: "401", message: "Access denied due to unauthorized transaction, please check client or server key")
        }
        let number = (query["card_number"] ?? "").filter { $0 != " " }
        var problems: [String] = []
        if !SandboxCards.passesLuhn(number) { problems.append("card_number is not valid") }
        if query["card_cvv"] == nil { problems.append("card_cvv is required") }
        if query["card_exp_month"] == nil || query["card_exp_year"] == nil { problems.append("card_exp_month and card_exp_year are required") }
        guard problems.isEmpty else { throw MidtransError(code: "400", message: "One or more parameters in the payload is invalid.", validation: problems) }
        let id = "\(SandboxCards.masked(number))-\(UUID().uuidString.lowercased())"
        let card = [number, query["card_cvv"] ?? "", query["card_exp_month"] ?? "", query["card_exp_year"] ?? ""].joined(separator: "|")
        tokens.withLock { $0[id] = (card, merchant.merchantID) }
        return try answer(["status_code": "200", "status_message": "Credit card token is created as Token ID.", "token_id": id])
    }

    // MARK: Charge

    func charge(_ request: HTTPRequest, merchant: MerchantAccount) async throws -> HTTPResponse {
        guard let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw MidtransError(code: "500", message: "An unexpected error occurred: the request body is not a JSON object")
        }
        let details = body["transaction_details"] as? [String: Any] ?? [:]
        let orderID = details["order_id"] as? String ?? ""
        let gross = Self.amount(details["gross_amount"])
        let paymentType = body["payment_type"] as? String ?? ""
        var problems: [String] = []
        if orderID.isEmpty { problems.append("transaction_details.order_id is required") }
        if gross == nil || gross!.amount <= 0 { problems.append("transaction_details.gross_amount must be greater than 0") }
        if !["credit_card", "bank_transfer"].contains(paymentType) { problems.append("payment_type is not supported: \(paymentType)") }
        guard problems.isEmpty, let gross else {
            throw MidtransError(code: "400", message: "One or more parameters in the payload is invalid.", validation: problems)
        }
        guard gross.amount <= Self.maximumAmount.amount else {
            throw MidtransError(code: "400", message: "One or more parameters in the payload is invalid.", validation: ["transaction_details.gross_amount is too large"])
        }
        var transaction = GatewayTransaction(
            transactionID: UUID().uuidString.lowercased(), orderID: orderID, merchantID: merchant.merchantID, paymentType: paymentType,
            state: TransactionState(status: .pending, fraud: paymentType == "credit_card" ? nil : .accept, grossAmount: gross,
                                    isCard: paymentType == "credit_card"),
            transactionTime: Self.now())
        // Reserve the order id before asking the bank: a second charge with the same order id,
        // even one arriving meanwhile, gets 406 and never reaches the bank.
        guard store.reserve(transaction) else {
            throw MidtransError(code: "406", message: "The request could not be completed due to a conflict with the current state of the target resource, please try again")
        }
        if paymentType == "bank_transfer" {
            let bank = (body["bank_transfer"] as? [String: Any])?["bank"] as? String ?? "permata"
            guard ["bca", "bni", "bri", "permata"].contains(bank) else {
                throw MidtransError(code: "400", message: "One or more parameters in the payload is invalid.", validation: ["bank_transfer.bank is not supported"])
            }
            let account = try await failing(transaction) {
                try await callBank("/va", ["bank": bank, "amount": String(gross.amount), "reference": transaction.transactionID])
            }
            transaction.bank = bank
            transaction.vaNumber = account["va_number"] as? String
            record(transaction)
            var answer = status(of: transaction)
            answer["status_message"] = "Success, Bank Transfer transaction is created"
            return try self.answer(answer)
        }
        // credit_card
        let tokenID = (body["credit_card"] as? [String: Any])?["token_id"] as? String ?? ""
        // Single use, and only by the merchant it was made for (another merchant cannot burn it).
        let token = tokens.withLock { tokens -> (card: String, merchant: String)? in
            guard let token = tokens[tokenID], token.merchant == merchant.merchantID else { return nil }
            tokens[tokenID] = nil
            return token
        }
        guard let token else {
            transaction.state = TransactionState(status: .failure, fraud: nil, grossAmount: gross, isCard: true)
            record(transaction)
            throw MidtransError(code: "411", message: "Token id is missing, invalid, or timed out")
        }
        let parts = token.card.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        transaction.maskedCard = SandboxCards.masked(parts[0])
        let outcome = SandboxCards.card(parts[0])?.outcome ?? .accept
        if outcome == .fraudDeny {
            transaction.state = TransactionState(status: .deny, fraud: .deny, grossAmount: gross, isCard: true)
            record(transaction)
            var answer = status(of: transaction)
            answer["status_message"] = "Denied by fraud detection"
            return try self.answer(answer)
        }
        let decision = try await failing(transaction) {
            try await callBank("/cards/authorize", [
                "card_number": parts[0], "cvv": parts[1], "expiry_month": parts[2], "expiry_year": parts[3],
                "amount": String(gross.amount), "reference": transaction.transactionID,
            ])
        }
        switch decision["result"] as? String {
        case "approved":
            transaction.approvalCode = decision["approval_code"] as? String
            transaction.state = TransactionState(status: .capture, fraud: outcome == .fraudChallenge ? .challenge : .accept, grossAmount: gross, isCard: true)
        case "authentication_required":
            transaction.authenticationID = decision["authentication_id"] as? String
        default:
            transaction.state = TransactionState(status: .deny, fraud: .accept, grossAmount: gross, isCard: true)
        }
        record(transaction)
        var answer = status(of: transaction)
        if transaction.authenticationID != nil { answer["redirect_url"] = "\(publicURL)/v2/3ds/\(transaction.transactionID)" }
        if transaction.state.status == .deny { answer["status_message"] = decision["message"] as? String ?? "Denied by bank" }
        return try self.answer(answer)
    }

    /// The 3-D Secure page's form posts the OTP here (with the merchant's client key).
    func verifyOTP(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
        let id = request.pathParameters["id"] ?? ""
        // Take the authentication once, and only while the payment still waits for it (a
        // cancelled or expired transaction must not be charged by a late OTP).
        guard let merchant = (body["client_key"] as? String).flatMap({ Self.merchant(in: merchants, key: $0, \.clientKey) }),
            let authentication = store.update(merchantID: merchant.merchantID, id: id, { transaction -> String? in
                guard transaction.state.status == .pending else { return nil }
                defer { transaction.authenticationID = nil }
                return transaction.authenticationID
            }) ?? nil
        else { throw MidtransError(code: "404", message: "Transaction doesn't exist.") }
        let result = try await callBank("/3ds/\(authentication)", ["otp": body["otp"] as? String ?? ""])
        guard let transaction = store.update(merchantID: merchant.merchantID, id: id, { transaction -> GatewayTransaction in
            transaction.approvalCode = result["approval_code"] as? String
            _ = transaction.state.apply(result["result"] as? String == "approved" ? .paid : .providerDenied)
            return transaction
        }) else { throw MidtransError(code: "404", message: "Transaction doesn't exist.") }
        var answer = status(of: transaction)
        if transaction.state.status == .deny { answer["status_message"] = "Card is not authenticated." }
        return try self.answer(answer)
    }

    /// The bank's notice that a virtual account was paid (in-process or via HTTP later).
    public func bankPaid(reference transactionID: String) {
        for merchant in merchants {
            _ = store.update(merchantID: merchant.merchantID, id: transactionID) { transaction in
                _ = transaction.state.apply(.paid)  // refused (412) when no longer pending: nothing changes
            }
        }
    }

    /// The merchant whose key is `key`, compared in constant time against every merchant (no
    /// early exit, no timing hint about which key came close).
    static func merchant(in merchants: [MerchantAccount], key: String, _ field: KeyPath<MerchantAccount, String>) -> MerchantAccount? {
        var found: MerchantAccount?
        let given = Array(key.utf8)
        for merchant in merchants {
            let expected = Array(merchant[keyPath: field].utf8)
            var difference = UInt8(given.count == expected.count ? 0 : 1)
            for i in 0..<max(given.count, expected.count) {
                difference |= (i < given.count ? given[i] : 0) ^ (i < expected.count ? expected[i] : 0)
            }
            if difference == 0 { found = merchant }
        }
        return found
    }

    // MARK: Transitions and answers

    func apply(_ event: TransactionState.Event, to transaction: GatewayTransaction) throws -> [String: String] {
        // Read, change and write under the store's lock: two refunds (or a cancel racing a
        // payment) cannot overwrite each other.
        let outcome = store.update(merchantID: transaction.merchantID, id: transaction.transactionID) { stored in
            (stored.state.apply(event), stored)
        }
        guard let (result, updated) = outcome else { throw MidtransError(code: "404", message: "Transaction doesn't exist.") }
        switch result {
        case .refused(let code, let message):
            throw MidtransError(code: code, message: message)
        case .changed:
            var answer = status(of: updated)
            switch event {
            case .expire: answer["status_code"] = "407"; answer["status_message"] = "Success, transaction has expired"
            case .cancel, .deny: answer["status_code"] = "200"; answer["status_message"] = "Success, transaction is canceled"
            case .approve: answer["status_message"] = "Success, transaction is approved"
            case .refund(let amount): answer["status_message"] = "Success, refund request is approved"; answer["refund_amount"] = amount.gatewayText
            default: break
            }
            return answer
        }
    }

    /// The transaction as `GET /v2/{id}/status` shows it (and notifications will).
    func status(of transaction: GatewayTransaction) -> [String: String] {
        var answer: [String: String] = [
            "status_code": transaction.state.status == .expire ? "407" : transaction.state.statusCode,
            "status_message": "Success, transaction is found",
            "transaction_id": transaction.transactionID, "order_id": transaction.orderID, "merchant_id": transaction.merchantID,
            "gross_amount": transaction.state.grossAmount.gatewayText, "currency": "IDR", "payment_type": transaction.paymentType,
            "transaction_time": transaction.transactionTime, "transaction_status": transaction.state.status.rawValue,
        ]
        if let fraud = transaction.state.fraud { answer["fraud_status"] = fraud.rawValue }
        if let masked = transaction.maskedCard { answer["masked_card"] = masked }
        if let code = transaction.approvalCode { answer["approval_code"] = code }
        if let bank = transaction.bank { answer["bank"] = bank }
        if let va = transaction.vaNumber {
            if transaction.bank == "permata" { answer["permata_va_number"] = va } else { answer["va_numbers"] = va }
        }
        return answer
    }

    /// JSON with Midtrans' conventions: HTTP 200 for body codes below 300 and 407, else the code.
    func answer(_ fields: [String: String]) throws -> HTTPResponse {
        var object: [String: Any] = fields
        if let va = fields["va_numbers"], let bank = fields["bank"] { object["va_numbers"] = [["bank": bank, "va_number": va]] }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        var response = HTTPResponse(status: 200, fields: HTTPFields(["Content-Type": "application/json"]), body: .bytes(Array(data)))
        if let code = Int(fields["status_code"] ?? ""), code >= 300, code != 407 { response.status = code }
        return response
    }

    func callBank(_ path: String, _ json: [String: String]) async throws -> [String: Any] {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(bankURL + path))
        request.body = Array(try JSONSerialization.data(withJSONObject: json))
        try? request.fields.append(name: "Content-Type", value: "application/json")
        let response: HTTPClientResponse
        do {
            response = try await bankClient.execute(request)
        } catch {
            throw MidtransError(code: "502", message: "Bank connection problem: \(error)")
        }
        guard response.status < 300, let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] else {
            throw MidtransError(code: response.status == 503 ? "503" : "502", message: "The bank answered \(response.status)")
        }
        return object
    }

    /// Runs a bank call for a reserved charge; if it fails, the charge is recorded as `failure`
    /// (which frees its order id for a retry) and the error answers the merchant.
    func failing(_ transaction: GatewayTransaction, _ call: () async throws -> [String: Any]) async throws -> [String: Any] {
        do {
            return try await call()
        } catch {
            var failed = transaction
            failed.state = TransactionState(status: .failure, fraud: nil, grossAmount: transaction.state.grossAmount, isCard: transaction.state.isCard)
            record(failed)
            throw error
        }
    }

    /// Stores the new state of a reserved transaction.
    func record(_ transaction: GatewayTransaction) {
        _ = store.update(merchantID: transaction.merchantID, id: transaction.transactionID) { $0 = transaction }
    }

    /// The largest gross_amount accepted (keeps every sum far from overflow).
    static let maximumAmount = Rupiah(999_999_999_999)

    static func amount(_ value: Any?) -> Rupiah? {
        if let number = value as? NSNumber { return Rupiah(parsing: number.stringValue) }
        if let text = value as? String { return Rupiah(parsing: text) }
        return nil
    }

    /// `YYYY-MM-DD HH:MM:SS` in Western Indonesia time (UTC+7), as Midtrans writes it.
    static func now() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 7 * 3600)
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date())
    }
}

/// An error answer in Midtrans' shape: `{"status_code", "status_message", "validation_messages"?}`.
struct MidtransError: Error {
    var code: String
    var message: String
    var validation: [String] = []
}
