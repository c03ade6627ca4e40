import Foundation
import HTTPParser
import NetLab
import Synchronization

/// How a gateway is wired and how its clocks run (compress them for demos and tests).
public struct GatewayConfiguration: Sendable {
    /// The bank's base URL (`https://127.0.0.1:9443`).
    public var bankURL: String
    /// The fraud service's base URL; nil: the rules run in-process (``GatewayConfiguration/fraudRules``).
    public var fraudURL: String?
    public var fraudRules = FraudRules()
    /// This gateway's base URL as browsers and SDKs reach it (3-D Secure and Snap pages).
    public var publicURL: String
    /// The secret the bank presents on its payment notices (`Authorization: Bearer …`).
    public var bankNoticeKey: String
    /// How long a VA, bill, QR or e-wallet payment waits before it expires (Midtrans: 24 h).
    public var paymentExpiry: Duration = .seconds(24 * 3600)
    /// How long after capture a card payment settles (Midtrans: D+1).
    public var settlementDelay: Duration = .seconds(24 * 3600)
    /// How long an `Idempotency-Key` answer is replayed (Midtrans: 5 minutes).
    public var idempotencyLifetime: Duration = .seconds(300)
    /// How long a card token may be used (single use in any case).
    public var tokenLifetime: Duration = .seconds(600)
    /// The clock (injected by tests).
    public var now: @Sendable () -> Date = { Date() }

    public init(bankURL: String, publicURL: String, bankNoticeKey: String, fraudURL: String? = nil) {
        self.bankURL = bankURL
        self.publicURL = publicURL
        self.bankNoticeKey = bankNoticeKey
        self.fraudURL = fraudURL
    }
}

/// The gateway's payment service: Midtrans' Core API and Snap on NetLab's HTTP server.
///
/// Routes: `GET /v2/token`; `POST /v2/charge` (credit_card with token_id, 3-D Secure included;
/// bank_transfer bca/bni/bri/permata; echannel; gopay; qris); `GET /v2/{id}/status`;
/// `POST /v2/{id}/cancel|approve|deny|expire|refund` and `/v2/{id}/refund/online/direct`;
/// the 3-D Secure page `GET|POST /v2/3ds/{transaction_id}`; Snap's
/// `POST /snap/v1/transactions` with its payment page `GET /snap/v2/vtweb/{token}`; and the bank's
/// payment notices `POST /bank/v1/payments`.
///
/// HTTP Basic auth with the server key; JSON with Midtrans' field names and string values; HTTP
/// status 200 for body codes 200/201/202/407, the body code otherwise. `Idempotency-Key` on POSTs
/// replays a successful answer for ``GatewayConfiguration/idempotencyLifetime``;
/// `X-Override-Notification` / `X-Append-Notification` on a charge choose its webhook targets.
/// Every state change goes through the store, which queues its webhook in the same commit.
public final class Gateway: Sendable {
    public let store: any GatewayStore
    let configuration: GatewayConfiguration
    let bankClient: HTTPClient
    private let localFraud: FraudService
    private let publicBase: Mutex<String>
    /// Card tokens live in memory only: a token carries the card number and CVV, which a
    /// gateway must never write to disk (PCI DSS 3.2). A restart forgets them: the SDK makes new ones.
    private let tokens = Mutex<[String: (card: String, merchant: String, expires: Date)]>([:])
    /// Snap sessions: the merchant and the creating request's JSON, until paid or expired.
    private let snapSessions = Mutex<[String: (merchant: String, body: [UInt8], expires: Date)]>([:])
    /// Idempotency keys whose first request is still running (a repeat gets 202 meanwhile).
    private let running = Mutex<Set<String>>([])
    /// The merchants, read from the store at most once a second (every request authenticates;
    /// reading them from SQLite each time cost more than the rest of a status call). A key not
    /// found reloads at once, so a merchant added by `netlab gateway merchant add` works at
    /// once; a removed one is refused within a second.
    private let merchantCache = Mutex<(list: [MerchantAccount], loaded: ContinuousClock.Instant)?>(nil)
    /// Transaction ids of charges running in this process (recovery leaves them alone).
    private let charging = Mutex<Set<String>>([])

    public init(configuration: GatewayConfiguration, store: any GatewayStore, bankClient: HTTPClient) {
        self.configuration = configuration
        self.store = store
        self.bankClient = bankClient
        self.publicBase = Mutex(configuration.publicURL)
        self.localFraud = FraudService(rules: configuration.fraudRules)
    }

    /// The gateway's base URL as clients reach it (settable once the port is known).
    public var publicURL: String {
        get { publicBase.withLock { $0 } }
        set { publicBase.withLock { $0 = newValue } }
    }

    public var router: Router {
        var router = Router()
        router.get("/v2/token", guarded { [self] request in try token(request) })
        router.post("/v2/charge", guarded { [self] request in
            let merchant = try authenticate(request)
            return try await idempotent(request, merchant) { try await charge(request, merchant: merchant) }
        })
        router.get("/v2/{id}/status", guarded { [self] request in
            let merchant = try authenticate(request)
            let transaction = try existing(request, merchant)
            var fields = transaction.fields(statusCode: transaction.statusAnswerCode, serverKey: merchant.serverKey)
            fields["status_message"] = "Success, transaction is found"
            return try answer(fields)
        })
        for (action, event) in [("cancel", TransactionState.Event.cancel), ("approve", .approve), ("deny", .deny), ("expire", .expire)] {
            router.post("/v2/{id}/\(action)", guarded { [self] request in
                let merchant = try authenticate(request)
                return try await idempotent(request, merchant) {
                    try await answer(apply(event, to: try existing(request, merchant), merchant: merchant))
                }
            })
        }
        let refund: HTTPHandler = guarded { [self] request in
            let merchant = try authenticate(request)
            return try await idempotent(request, merchant) { try await self.refund(request, merchant: merchant) }
        }
        router.post("/v2/{id}/refund", refund)
        router.post("/v2/{id}/refund/online/direct", refund)
        router.get("/v2/3ds/{id}") { [self] request in try otpPage(request) }
        router.post("/v2/3ds/{id}", guarded { [self] request in try await verifyOTP(request) })
        router.post("/snap/v1/transactions", guarded { [self] request in try snapCreate(request) })
        router.get("/snap/v2/vtweb/{token}") { [self] request in try snapPage(request) }
        router.post("/snap/v2/transactions/{token}/charge", guarded { [self] request in try await snapCharge(request) })
        for type in ["gopay", "qris"] {
            router.get("/v2/\(type)/{id}/qr-code", guarded { [self] request in
                let merchant = try authenticate(request)
                let transaction = try existing(request, merchant)
                guard let qr = transaction.extra["qr_string"] else { throw MidtransError(code: "404", message: "Transaction doesn't exist.") }
                return HTTPResponse(status: 200, fields: HTTPFields(["Content-Type": "text/plain; charset=utf-8"]), body: .bytes(Array(qr.utf8)))
            })
        }
        router.post("/bank/v1/payments", guarded { [self] request in try await bankNotice(request) })
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
        // Card tokens travel in the query of GET /v2/token (as Midtrans' JS does): never log it.
        configuration.redactQueryInAccessLog = true
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
                if !error.errorMessages.isEmpty { object["error_messages"] = error.errorMessages }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                return HTTPResponse(status: Int(error.code) ?? 500, fields: HTTPFields(["Content-Type": "application/json"]), body: .bytes(Array(data)))
            }
        }
    }

    // MARK: Authentication

    /// HTTP Basic with the server key as user name and an empty password.
    func authenticate(_ request: HTTPRequest, message: String = "Unknown Merchant server_key/id") throws -> MerchantAccount {
        guard let key = Self.basicUser(request), let merchant = try merchant(key: key, \.serverKey) else {
            throw MidtransError(code: "401", message: message)
        }
        return merchant
    }

    /// The merchant whose server or client key is `key` (see ``merchantCache``).
    func merchant(key: String, _ field: KeyPath<MerchantAccount, String>) throws -> MerchantAccount? {
        let cached = merchantCache.withLock { $0 }
        if let cached, ContinuousClock.now - cached.loaded < .seconds(1), let found = Self.merchant(in: cached.list, key: key, field) {
            return found
        }
        return Self.merchant(in: try merchants(), key: key, field)
    }

    /// Every merchant, fresh from the store (and remembered for ``merchant(key:_:)``).
    func merchants() throws -> [MerchantAccount] {
        let list = try store.merchants()
        merchantCache.withLock { $0 = (list, .now) }
        return list
    }

    /// The user name of HTTP Basic authorization (RFC 7617): Midtrans' server key.
    static func basicUser(_ request: HTTPRequest) -> String? {
        guard let header = request.fields["Authorization"], header.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
            let user = decoded.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first
        else { return nil }
        return String(user)
    }

    func existing(_ request: HTTPRequest, _ merchant: MerchantAccount) throws -> GatewayTransaction {
        guard let transaction = try store.find(merchantID: merchant.merchantID, id: request.pathParameters["id"] ?? "") else {
            throw MidtransError(code: "404", message: "Transaction doesn't exist.")
        }
        return transaction
    }

    // MARK: Idempotency-Key

    /// Runs `body` once per `Idempotency-Key`: a repeat within the lifetime gets the stored
    /// answer (whatever its body), a repeat while the first still runs gets 202, and only
    /// successful answers are stored (a failed request may be retried with the same key).
    func idempotent(_ request: HTTPRequest, _ merchant: MerchantAccount, _ body: () async throws -> HTTPResponse) async throws -> HTTPResponse {
        guard let key = request.fields["Idempotency-Key"], !key.isEmpty else { return try await body() }
        guard key.utf8.count <= 64 else {
            throw MidtransError(code: "400", message: "One or more parameters in the payload is invalid.", validation: ["Idempotency-Key must be at most 64 characters"])
        }
        let now = millis(configuration.now())
        if let stored = try store.idempotentAnswer(merchantID: merchant.merchantID, key: key),
            now - stored.storedAt < Int64(configuration.idempotencyLifetime.components.seconds * 1000)
        {
            var response = HTTPResponse(status: stored.status, fields: HTTPFields(["Content-Type": "application/json"]), body: .bytes(stored.body))
            try? response.fields.append(name: "Idempotent-Replayed", value: "true")
            return response
        }
        let slot = merchant.merchantID + "/" + key
        guard running.withLock({ $0.insert(slot).inserted }) else {
            throw MidtransError(code: "202", message: "The request with this Idempotency-Key is still being processed")
        }
        defer { _ = running.withLock { $0.remove(slot) } }
        let response = try await body()
        if response.status < 300, case .bytes(let bytes) = response.body {
            try store.saveIdempotentAnswer(merchantID: merchant.merchantID, key: key, IdempotentAnswer(status: response.status, body: bytes, storedAt: now))
        }
        return response
    }

    // MARK: Card tokens

    func token(_ request: HTTPRequest) throws -> HTTPResponse {
        let query = request.queryParameters
        let byClientKey = try query["client_key"].flatMap { try merchant(key: $0, \.clientKey) }
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
        let now = configuration.now()
        tokens.withLock { tokens in
            tokens = tokens.filter { $0.value.expires > now }  // forget stale ones as we go
            tokens[id] = (card, merchant.merchantID, now.addingTimeInterval(Self.seconds(configuration.tokenLifetime)))
        }
        return try answer(["status_code": "200", "status_message": "Credit card token is created as Token ID.", "token_id": id])
    }

    // MARK: Charge

    static let supportedTypes = ["credit_card", "bank_transfer", "echannel", "gopay", "qris"]

    func charge(_ request: HTTPRequest, merchant: MerchantAccount) async throws -> HTTPResponse {
        guard let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw MidtransError(code: "500", message: "An unexpected error occurred: the request body is not a JSON object")
        }
        let (override, append) = try notificationTargets(request)
        return try await charge(body, merchant: merchant, override: override, append: append)
    }

    func charge(_ body: [String: Any], merchant: MerchantAccount, override: [String]?, append: [String]) async throws -> HTTPResponse {
        let details = body["transaction_details"] as? [String: Any] ?? [:]
        let orderID = details["order_id"] as? String ?? ""
        let gross = Self.amount(details["gross_amount"])
        let paymentType = body["payment_type"] as? String ?? ""
        var problems: [String] = []
        if orderID.isEmpty { problems.append("transaction_details.order_id is required") }
        if orderID.utf8.count > 50 { problems.append("transaction_details.order_id may not be greater than 50 characters") }
        if gross == nil || gross!.amount <= 0 { problems.append("transaction_details.gross_amount must be greater than 0") }
        if !Self.supportedTypes.contains(paymentType) { problems.append("payment_type is not supported: \(paymentType)") }
        guard problems.isEmpty, let gross else {
            throw MidtransError(code: "400", message: "One or more parameters in the payload is invalid.", validation: problems)
        }
        guard gross.amount <= Self.maximumAmount.amount else {
            throw MidtransError(code: "400", message: "One or more parameters in the payload is invalid.", validation: ["transaction_details.gross_amount is too large"])
        }
        let isCard = paymentType == "credit_card"
        let now = configuration.now()
        var transaction = GatewayTransaction(
            transactionID: UUID().uuidString.lowercased(), orderID: orderID, merchantID: merchant.merchantID, paymentType: paymentType,
            state: TransactionState(status: .pending, fraud: isCard ? nil : .accept, grossAmount: gross, isCard: isCard),
            transactionTime: Self.timestamp(now))
        transaction.overrideNotificationURLs = override
        transaction.appendNotificationURLs = append
        let id = transaction.transactionID
        charging.withLock { _ = $0.insert(id) }
        defer { charging.withLock { _ = $0.remove(id) } }
        // Reserve the order id before asking anyone: a second charge with the same order id,
        // even one arriving meanwhile, gets 406 and never reaches the bank.
        guard try store.reserve(transaction) else {
            throw MidtransError(code: "406", message: "The request could not be completed due to a conflict with the current state of the target resource, please try again")
        }
        if !isCard { return try await chargeWaiting(&transaction, body: body, merchant: merchant, now: now) }
        return try await chargeCard(&transaction, body: body, merchant: merchant)
    }

    /// Payments the customer completes later, at the bank or in an app: an account (VA, bill
    /// key, QR) is opened at the bank and the transaction waits in `pending` until paid or expired.
    private func chargeWaiting(_ transaction: inout GatewayTransaction, body: [String: Any], merchant: MerchantAccount, now: Date) async throws -> HTTPResponse {
        let channel: String
        var message: String
        switch transaction.paymentType {
        case "bank_transfer":
            channel = (body["bank_transfer"] as? [String: Any])?["bank"] as? String ?? "permata"
            guard ["bca", "bni", "bri", "permata"].contains(channel) else {
                try? record(failed(transaction))
                throw MidtransError(code: "400", message: "One or more parameters in the payload is invalid.", validation: ["bank_transfer.bank is not supported"])
            }
            message = "Success, Bank Transfer transaction is created"
        case "echannel":
            channel = "mandiri"
            message = "OK, Mandiri Bill transaction is successful"
        case "gopay":
            channel = "gopay"
            message = "GoPay transaction is created"
        default:
            channel = "qris"
            message = "QRIS transaction is created"
        }
        let account = try await inDoubt(transaction) {
            try await callBank("/va", ["bank": channel, "amount": String(transaction.state.grossAmount.amount), "reference": transaction.transactionID])
        }
        let number = account["va_number"] as? String ?? ""
        transaction.vaNumber = number
        transaction.expiryTime = Self.timestamp(now.addingTimeInterval(Self.seconds(configuration.paymentExpiry)))
        switch transaction.paymentType {
        case "bank_transfer": transaction.bank = channel
        case "echannel": break
        default:
            // QR and e-wallet payments: the customer scans or opens the app; here they pay at the
            // bank simulator's e-wallet endpoint with this number.
            let qr = "00020101021226\(number)5303360540\(transaction.state.grossAmount.amount)6304"
            transaction.extra["qr_string"] = qr
            transaction.extra["acquirer"] = "gopay"
            if transaction.paymentType == "qris" { transaction.extra["issuer"] = "gopay" }
            let base = "\(publicURL)/v2/\(transaction.paymentType)/\(transaction.transactionID)"
            var actions: [[String: String]] = [["name": "generate-qr-code", "method": "GET", "url": "\(base)/qr-code"]]
            if transaction.paymentType == "gopay" {
                actions.append(["name": "deeplink-redirect", "method": "GET", "url": "gojek://gopay/merchanttransfer?tref=\(number)"])
            }
            actions.append(["name": "get-status", "method": "GET", "url": "\(publicURL)/v2/\(transaction.transactionID)/status"])
            actions.append(["name": "cancel", "method": "POST", "url": "\(publicURL)/v2/\(transaction.transactionID)/cancel"])
            transaction.extra["actions"] = String(decoding: try JSONSerialization.data(withJSONObject: actions, options: [.sortedKeys]), as: UTF8.self)
        }
        try record(transaction)
        var fields = transaction.fields(statusCode: transaction.state.statusCode, serverKey: merchant.serverKey)
        fields["status_message"] = message
        return try answer(fields)
    }

    private func chargeCard(_ transaction: inout GatewayTransaction, body: [String: Any], merchant: MerchantAccount) async throws -> HTTPResponse {
        let gross = transaction.state.grossAmount
        let tokenID = (body["credit_card"] as? [String: Any])?["token_id"] as? String ?? ""
        // Single use, unexpired, and only by the merchant it was made for (another merchant
        // cannot burn it).
        let now = configuration.now()
        let token = tokens.withLock { tokens -> (card: String, merchant: String, expires: Date)? in
            guard let token = tokens[tokenID], token.merchant == merchant.merchantID else { return nil }
            tokens[tokenID] = nil
            return token.expires > now ? token : nil
        }
        guard let token else {
            try? record(failed(transaction))
            throw MidtransError(code: "411", message: "Token id is missing, invalid, or timed out")
        }
        let parts = token.card.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        transaction.maskedCard = SandboxCards.masked(parts[0])
        transaction.bank = "bni"
        // Fraud detection first: a denied card never reaches the bank.
        let check = FraudCheck(merchantID: merchant.merchantID, orderID: transaction.orderID, paymentType: "credit_card", grossAmount: gross, cardNumber: parts[0])
        let verdict = try await failing(transaction) { try await assessFraud(check) }
        if verdict.fraud_status == "deny" {
            transaction.state = TransactionState(status: .deny, fraud: .deny, grossAmount: gross, isCard: true)
            try record(transaction)
            var fields = transaction.fields(statusCode: transaction.state.statusCode, serverKey: merchant.serverKey)
            fields["status_message"] = "Denied by fraud detection"
            return try answer(fields)
        }
        let challenge = verdict.fraud_status == "challenge"
        let decision = try await inDoubt(transaction) {
            try await callBank("/cards/authorize", [
                "card_number": parts[0], "cvv": parts[1], "expiry_month": parts[2], "expiry_year": parts[3],
                "amount": String(gross.amount), "reference": transaction.transactionID,
            ])
        }
        switch decision["result"] as? String {
        case "approved":
            transaction.approvalCode = decision["approval_code"] as? String
            transaction.state = TransactionState(status: .capture, fraud: challenge ? .challenge : .accept, grossAmount: gross, isCard: true)
        case "authentication_required":
            transaction.authenticationID = decision["authentication_id"] as? String
            transaction.extra["fraud_verdict"] = verdict.fraud_status
        default:
            transaction.state = TransactionState(status: .deny, fraud: .accept, grossAmount: gross, isCard: true)
        }
        try record(transaction)
        var fields = transaction.fields(statusCode: transaction.state.statusCode, serverKey: merchant.serverKey)
        fields["status_message"] = "Success, Credit Card transaction is successful"
        if transaction.authenticationID != nil {
            fields["redirect_url"] = "\(publicURL)/v2/3ds/\(transaction.transactionID)?client_key=\(merchant.clientKey)"
            fields["status_message"] = "Success, Credit Card transaction is created; 3-D Secure authentication is required"
        }
        if challenge && transaction.state.status == .capture {
            fields["status_message"] = "Challenge by FDS"
        }
        if transaction.state.status == .deny {
            fields["status_message"] = decision["message"] as? String ?? "Denied by bank"
            fields["channel_response_message"] = decision["message"] as? String ?? "Denied by bank"
        }
        return try answer(fields)
    }

    /// Asks fraud detection (the service, or the in-process rules when none is configured).
    /// An unreachable service is Midtrans' 504 "Fraud detection unavailable".
    func assessFraud(_ check: FraudCheck) async throws -> FraudVerdict {
        guard let fraudURL = configuration.fraudURL else { return localFraud.assess(check) }
        do {
            var request = HTTPClientRequest(method: .post, url: try HTTPURL(fraudURL + "/v1/assess"))
            request.body = Array(try JSONEncoder().encode(check))
            try? request.fields.append(name: "Content-Type", value: "application/json")
            let response = try await bankClient.execute(request)
            guard response.status == 200 else { throw MidtransError(code: "504", message: "Fraud detection unavailable") }
            return try response.decodeJSON(FraudVerdict.self)
        } catch {
            throw MidtransError(code: "504", message: "Fraud detection unavailable")
        }
    }

    /// `X-Override-Notification` / `X-Append-Notification`: at most 3 http(s) URLs each.
    func notificationTargets(_ request: HTTPRequest) throws -> (override: [String]?, append: [String]) {
        func urls(_ name: String) throws -> [String]? {
            guard let value = request.fields[name] else { return nil }
            let list = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard list.count <= 3, list.allSatisfy({ (try? HTTPURL($0)) != nil }) else {
                throw MidtransError(code: "400", message: "One or more parameters in the payload is invalid.", validation: ["\(name) must be at most 3 comma-separated http(s) URLs"])
            }
            return list
        }
        return (try urls("X-Override-Notification"), try urls("X-Append-Notification") ?? [])
    }

    // MARK: 3-D Secure

    /// The page the customer's browser opens from `redirect_url`: a form for the OTP.
    func otpPage(_ request: HTTPRequest) throws -> HTTPResponse {
        let id = Self.htmlEscape(request.pathParameters["id"] ?? "")
        let clientKey = Self.htmlEscape(request.queryParameters["client_key"] ?? "")
        let html = """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>3-D Secure</title></head>
            <body>
            <h1>3-D Secure authentication</h1>
            <p>Your bank sent a one-time password to your phone (sandbox: 112233).</p>
            <form method="post" action="/v2/3ds/\(id)">
            <input type="hidden" name="client_key" value="\(clientKey)">
            <label>OTP <input name="otp" inputmode="numeric" autocomplete="one-time-code"></label>
            <button type="submit">Pay</button>
            </form>
            </body></html>
            """
        return HTTPResponse(status: 200, fields: HTTPFields(["Content-Type": "text/html; charset=utf-8"]), body: .bytes(Array(html.utf8)))
    }

    /// The OTP form posts here (JSON or form-encoded, with the merchant's client key).
    func verifyOTP(_ request: HTTPRequest) async throws -> HTTPResponse {
        let form = Self.formOrJSON(request)
        let id = request.pathParameters["id"] ?? ""
        // Take the authentication once, and only while the payment still waits for it (a
        // cancelled or expired transaction must not be charged by a late OTP).
        guard let merchant = try form["client_key"].flatMap({ try merchant(key: $0, \.clientKey) }),
            let taken = try store.update(merchantID: merchant.merchantID, id: id, { transaction -> (String, String)? in
                guard transaction.state.status == .pending, let authentication = transaction.authenticationID else { return nil }
                transaction.authenticationID = nil
                return (authentication, transaction.transactionID)
            }), let (authentication, transactionID) = taken
        else { throw MidtransError(code: "404", message: "Transaction doesn't exist.") }
        let result: [String: Any]
        do {
            result = try await callBank("/3ds/\(authentication)", ["otp": form["otp"] ?? ""])
        } catch {
            // In doubt as a charge is: the bank may have approved. Abandon it and reverse.
            if let pending = try? store.find(merchantID: merchant.merchantID, id: transactionID) {
                await abandon(pending, evenIfAnnounced: true)
            }
            throw error
        }
        guard let transaction = try store.update(merchantID: merchant.merchantID, id: id, { transaction -> GatewayTransaction in
            transaction.approvalCode = result["approval_code"] as? String
            let challenge = transaction.extra.removeValue(forKey: "fraud_verdict") == "challenge"
            if result["result"] as? String == "approved" {
                transaction.state = TransactionState(status: .capture, fraud: challenge ? .challenge : .accept,
                                                     grossAmount: transaction.state.grossAmount, isCard: true)
            } else {
                _ = transaction.state.apply(.providerDenied)
            }
            return transaction
        }) else { throw MidtransError(code: "404", message: "Transaction doesn't exist.") }
        var fields = transaction.fields(statusCode: transaction.state.statusCode, serverKey: merchant.serverKey)
        fields["status_message"] = transaction.state.status == .deny ? "Card is not authenticated." : "Success, Credit Card transaction is successful"
        return try answer(fields)
    }

    // MARK: Snap

    /// `POST /snap/v1/transactions`: a payment page for an order; the customer chooses how to pay.
    func snapCreate(_ request: HTTPRequest) throws -> HTTPResponse {
        let merchant = try authenticate(request, message: "Access denied due to unauthorized transaction, please check client or server key")
        guard let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw MidtransError(code: "400", message: "transaction_details is required", errorMessages: ["transaction_details is required"])
        }
        let details = body["transaction_details"] as? [String: Any] ?? [:]
        var problems: [String] = []
        if (details["order_id"] as? String ?? "").isEmpty { problems.append("transaction_details.order_id is required") }
        if (Self.amount(details["gross_amount"])?.amount ?? 0) <= 0 { problems.append("transaction_details.gross_amount must be greater than or equal to 0.01") }
        guard problems.isEmpty else { throw MidtransError(code: "400", message: problems[0], errorMessages: problems) }
        let token = UUID().uuidString.lowercased()
        let expires = configuration.now().addingTimeInterval(Self.seconds(configuration.paymentExpiry))
        snapSessions.withLock { $0[token] = (merchant.merchantID, request.body, expires) }
        let object: [String: Any] = ["token": token, "redirect_url": "\(publicURL)/snap/v2/vtweb/\(token)"]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return HTTPResponse(status: 201, fields: HTTPFields(["Content-Type": "application/json"]), body: .bytes(Array(data)))
    }

    private func snapSession(_ token: String) throws -> (merchant: MerchantAccount, body: [String: Any]) {
        let now = configuration.now()
        guard let session = snapSessions.withLock({ $0[token] }), session.expires > now,
            let merchant = try store.merchants().first(where: { $0.merchantID == session.merchant })
        else { throw MidtransError(code: "404", message: "Snap token is not found or expired") }
        return (merchant, (try? JSONSerialization.jsonObject(with: Data(session.body))) as? [String: Any] ?? [:])
    }

    /// The Snap page: the order and the ways to pay (each posts to the charge route below).
    func snapPage(_ request: HTTPRequest) throws -> HTTPResponse {
        let token = request.pathParameters["token"] ?? ""
        let (_, body) = try snapSession(token)
        let details = body["transaction_details"] as? [String: Any] ?? [:]
        let order = Self.htmlEscape(details["order_id"] as? String ?? "")
        let amount = Self.amount(details["gross_amount"])?.gatewayText ?? "?"
        let html = """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>Pay order \(order)</title></head>
            <body>
            <h1>Order \(order): IDR \(amount)</h1>
            <p>Choose how to pay. Card payments need a token from <code>GET /v2/token</code>.</p>
            <ul>
            <li>Bank transfer (BCA, BNI, BRI, Permata virtual account)</li>
            <li>Mandiri bill (echannel)</li>
            <li>GoPay or QRIS</li>
            <li>Credit card (3-D Secure)</li>
            </ul>
            <p>The page's scripts post <code>{"payment_type": …}</code> to
            <code>/snap/v2/transactions/\(Self.htmlEscape(token))/charge</code>.</p>
            </body></html>
            """
        return HTTPResponse(status: 200, fields: HTTPFields(["Content-Type": "text/html; charset=utf-8"]), body: .bytes(Array(html.utf8)))
    }

    /// The Snap page's charge: the order from the session, the payment method from the page.
    func snapCharge(_ request: HTTPRequest) async throws -> HTTPResponse {
        let token = request.pathParameters["token"] ?? ""
        let (merchant, session) = try snapSession(token)
        guard var choice = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw MidtransError(code: "400", message: "One or more parameters in the payload is invalid.", validation: ["the body must be a JSON object with payment_type"])
        }
        choice["transaction_details"] = session["transaction_details"]
        let response = try await charge(choice, merchant: merchant, override: nil, append: [])
        if response.status < 300 { _ = snapSessions.withLock { $0.removeValue(forKey: token) } }
        return response
    }

    // MARK: Merchant actions

    func refund(_ request: HTTPRequest, merchant: MerchantAccount) async throws -> HTTPResponse {
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
        var fields = try await apply(.refund(amount), to: transaction, merchant: merchant)
        if let key = body["refund_key"] as? String { fields["refund_key"] = key }
        fields["refund_amount"] = amount.gatewayText
        return try answer(fields)
    }

    func apply(_ event: TransactionState.Event, to transaction: GatewayTransaction, merchant: MerchantAccount) async throws -> [String: Any] {
        // Read, change and write under the store's lock: two refunds (or a cancel racing a
        // payment) cannot overwrite each other.
        let outcome = try store.update(merchantID: transaction.merchantID, id: transaction.transactionID) { stored in
            (stored.state.apply(event), stored)
        }
        guard let (result, updated) = outcome else { throw MidtransError(code: "404", message: "Transaction doesn't exist.") }
        switch result {
        case .refused(let code, let message):
            throw MidtransError(code: code, message: message)
        case .changed:
            // A waiting account that can no longer be paid is closed at the bank, so a late
            // payment is refused there instead of taking money for a dead order.
            if [.cancel, .expire].contains(updated.state.status), let number = updated.vaNumber {
                _ = try? await callBank("/va/\(number)/close", [:])
            }
            var fields = updated.fields(statusCode: updated.statusAnswerCode, serverKey: merchant.serverKey)
            switch event {
            case .expire: fields["status_message"] = "Success, transaction has expired"
            case .cancel, .deny: fields["status_code"] = "200"; fields["status_message"] = "Success, transaction is canceled"
            case .approve: fields["status_message"] = "Success, transaction is approved"
            case .refund: fields["status_message"] = "Success, refund request is approved"
            default: break
            }
            return fields
        }
    }

    // MARK: The bank's side

    /// `POST /bank/v1/payments` `{reference}`: the bank says a waiting payment was paid.
    func bankNotice(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let header = request.fields["Authorization"], header.hasPrefix("Bearer "),
            Self.constantTimeEqual(String(header.dropFirst(7)), configuration.bankNoticeKey)
        else { throw MidtransError(code: "401", message: "unknown bank") }
        let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
        guard let reference = body["reference"] as? String, try bankPaid(reference: reference) else {
            throw MidtransError(code: "404", message: "Transaction doesn't exist.")
        }
        return try answer(["status_code": "200", "status_message": "payment recorded"])
    }

    /// The bank's notice that a waiting payment (VA, bill, QR, e-wallet) was paid. False if no
    /// transaction has that reference.
    @discardableResult
    public func bankPaid(reference transactionID: String) throws -> Bool {
        for merchant in try store.merchants() {
            let found: Void? = try store.update(merchantID: merchant.merchantID, id: transactionID) { transaction in
                // A payment for a transaction no longer pending changes nothing (the graph refuses it).
                if transaction.transactionID == transactionID, case .changed = transaction.state.apply(.paid) {
                    transaction.extra["settlement_time"] = Self.timestamp(configuration.now())
                }
            }
            if found != nil { return true }
        }
        return false
    }

    /// Finishes charges a crash interrupted, expires waiting payments past their `expiry_time` and
    /// settles card captures older than the settlement delay. Run periodically (``runTimers(every:)``); returns how many changed.
    @discardableResult
    public func applyTimers() async throws -> Int {
        let now = configuration.now()
        var changed = try await recoverInterrupted()
        for transaction in try store.expired(status: .pending, before: Self.timestamp(now)) {
            let merchants = try store.merchants()
            guard let merchant = merchants.first(where: { $0.merchantID == transaction.merchantID }) else { continue }
            if (try? await apply(.expire, to: transaction, merchant: merchant)) != nil { changed += 1 }
        }
        let cutoff = Self.timestamp(now.addingTimeInterval(-Self.seconds(configuration.settlementDelay)))
        for transaction in try store.captured(before: cutoff) {
            let settled = try store.update(merchantID: transaction.merchantID, id: transaction.transactionID) { stored -> Bool in
                guard case .changed = stored.state.apply(.settle) else { return false }
                stored.extra["settlement_time"] = Self.timestamp(now)
                return true
            }
            if settled == true { changed += 1 }
        }
        return changed
    }

    /// Runs ``applyTimers()`` every `interval` until the task is cancelled.
    public func runTimers(every interval: Duration) async {
        while !Task.isCancelled {
            _ = try? await applyTimers()
            try? await Task.sleep(for: interval)
        }
    }

    // MARK: Helpers

    /// The merchant whose key is `key`, compared in constant time against every merchant (no
    /// early exit, no timing hint about which key came close).
    static func merchant(in merchants: [MerchantAccount], key: String, _ field: KeyPath<MerchantAccount, String>) -> MerchantAccount? {
        var found: MerchantAccount?
        for merchant in merchants where constantTimeEqual(key, merchant[keyPath: field]) { found = merchant }
        return found
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let given = Array(a.utf8), expected = Array(b.utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<max(given.count, expected.count) {
            difference |= (i < given.count ? given[i] : 0) ^ (i < expected.count ? expected[i] : 0)
        }
        return difference == 0
    }

    /// JSON with Midtrans' conventions: HTTP 200 for body codes below 300 and 407, else the code.
    func answer(_ fields: [String: Any]) throws -> HTTPResponse {
        let data = try JSONText.encode(fields)
        var response = HTTPResponse(status: 200, fields: HTTPFields(["Content-Type": "application/json"]), body: .bytes(data))
        if let code = Int(fields["status_code"] as? String ?? ""), code >= 300, code != 407 { response.status = code }
        return response
    }

    func callBank(_ path: String, _ json: [String: String]) async throws -> [String: Any] {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(configuration.bankURL + path))
        request.body = try JSONText.encode(json)
        try? request.fields.append(name: "Content-Type", value: "application/json")
        // The bank knows its gateway by the shared key (the reversal route requires it).
        try? request.fields.append(name: "Authorization", value: "Bearer \(configuration.bankNoticeKey)")
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

    /// Runs a call for a reserved charge; if it fails, the charge is recorded as `failure`
    /// (which frees its order id for a retry) and the error answers the merchant.
    func failing<T>(_ transaction: GatewayTransaction, _ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch {
            try? record(failed(transaction))
            throw error
        }
    }

    /// Runs a call to the bank for a reserved charge. If no answer arrives, the bank may still
    /// have acted (approved the card, opened the account): the outcome is *in doubt*. The charge
    /// is abandoned — `failure`, its order id free again, a reversal owed — and the bank is asked
    /// to reverse the reference; if it cannot be reached, ``recoverInterrupted()`` asks again
    /// until it confirms. A reference once reversed can never take money at the bank.
    func inDoubt<T>(_ transaction: GatewayTransaction, _ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch {
            await abandon(transaction, evenIfAnnounced: false)
            throw error
        }
    }

    /// Abandons a charge (see ``GatewayStore/abandon(merchantID:id:evenIfAnnounced:)``) and
    /// tries the reversal at once.
    func abandon(_ transaction: GatewayTransaction, evenIfAnnounced: Bool) async {
        guard (try? store.abandon(merchantID: transaction.merchantID, id: transaction.transactionID, evenIfAnnounced: evenIfAnnounced)) == true
        else { return }
        if (try? await reverseAtBank(transaction.transactionID)) != nil {
            try? store.reversalDone(merchantID: transaction.merchantID, id: transaction.transactionID)
        }
    }

    func reverseAtBank(_ reference: String) async throws {
        _ = try await callBank("/references/\(reference)/reverse", [:])
    }

    /// Finishes charges a crash interrupted: reserved, never answered, not running in this
    /// process. Each is abandoned atomically — only if it is *still* unannounced, so a charge
    /// that finished meanwhile is left alone — and reversed at the bank; reversals the bank has
    /// not confirmed yet are asked for again. Runs with the timers; returns how many changed.
    /// (One gateway process per state folder: another process's running charges look abandoned.)
    @discardableResult
    public func recoverInterrupted() async throws -> Int {
        let candidates = try store.unannounced()
        let running = charging.withLock { $0 }
        var changed = 0
        for transaction in candidates where !running.contains(transaction.transactionID) {
            if try store.abandon(merchantID: transaction.merchantID, id: transaction.transactionID, evenIfAnnounced: false) { changed += 1 }
        }
        for owed in try store.reversalsOwed() {
            guard (try? await reverseAtBank(owed.transactionID)) != nil else { continue }
            try store.reversalDone(merchantID: owed.merchantID, id: owed.transactionID)
            changed += 1
        }
        return changed
    }

    func failed(_ transaction: GatewayTransaction) -> GatewayTransaction {
        var failed = transaction
        failed.state = TransactionState(status: .failure, fraud: nil, grossAmount: transaction.state.grossAmount, isCard: transaction.state.isCard)
        return failed
    }

    /// Stores the first outcome of a reserved charge (queueing its notification). Only a charge
    /// still `pending` is written: if recovery already reversed and failed it, the outcome is
    /// refused rather than laid over the failure. Throws when the outcome cannot be stored — the
    /// merchant must then not be told it succeeded (the charge stays in doubt and is recovered).
    func record(_ transaction: GatewayTransaction) throws {
        let stored = try store.update(merchantID: transaction.merchantID, id: transaction.transactionID) { stored -> Bool in
            guard stored.state.status == .pending else { return false }
            stored = transaction
            return true
        }
        guard stored == true else {
            throw MidtransError(code: "500", message: "The charge was interrupted and has been reversed; please charge again")
        }
    }

    /// The largest gross_amount accepted (keeps every sum far from overflow).
    static let maximumAmount = Rupiah(999_999_999_999)

    static func amount(_ value: Any?) -> Rupiah? {
        if let number = value as? NSNumber { return Rupiah(parsing: number.stringValue) }
        if let text = value as? String { return Rupiah(parsing: text) }
        return nil
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    func millis(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970 * 1000) }

    /// `YYYY-MM-DD HH:MM:SS` in Western Indonesia time (UTC+7), as Midtrans writes it.
    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 7 * 3600)!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    static func htmlEscape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A form post (`application/x-www-form-urlencoded`, as the OTP page sends) or a JSON object.
    static func formOrJSON(_ request: HTTPRequest) -> [String: String] {
        if let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] {
            return object.compactMapValues { $0 as? String }
        }
        var fields: [String: String] = [:]
        for pair in String(decoding: request.body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }
}

/// An error answer in Midtrans' shape: `{"status_code", "status_message", "validation_messages"?}`
/// (Snap: `error_messages`).
struct MidtransError: Error {
    var code: String
    var message: String
    var validation: [String] = []
    var errorMessages: [String] = []
}
