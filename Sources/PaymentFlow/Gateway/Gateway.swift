import Foundation
import HTTPParser
import NetLab
import TCPSocket

/// The gateway's payment service: Midtrans' Core API and Snap on NetLab's HTTP server.
///
/// A thin façade: it routes each request to the part whose job it is and turns every failure
/// into an answer through one path (``errorResponse(_:for:)``). The parts, each in a file of
/// its name:
///
/// | part | job |
/// |---|---|
/// | ``MerchantDirectory`` | who is calling: keys, their cache, constant-time comparison |
/// | ``IdempotencyGuard`` | `Idempotency-Key`: claimed atomically, bound to its request, replayed |
/// | ``CardVault``, ``CardAPI`` | card tokens (sealed, short-lived) and saved cards (sealed); token, register, points, BIN calls |
/// | ``ChargeFlow`` (+ ``ChargeSaga``) | reserve → fraud → bank → record, with abandon/reverse |
/// | ``TransactionLedger`` | the one door through which a transaction changes; decides webhooks and what the bank owes |
/// | ``BankObligations`` | reversals and refunds, settled until the bank confirms |
/// | ``ThreeDSecure``, ``Snap`` | the OTP page and check; Snap's sessions and page |
/// | ``PayAccountAPI`` | GoPay tokenization: link, approve, get, unbind a customer's wallet |
/// | ``Subscriptions`` | `/v1/subscriptions`: saved cards and linked wallets charged on a schedule |
/// | ``PaymentLinks`` | `/v1/payment-links`: shareable pages for a fixed order, with a usage limit |
/// | ``MerchantActions`` | cancel, approve, deny, expire, refund |
/// | ``GatewayTimers`` | recovery, expiry, settlement, the bank's dues |
/// | ``BankClient``, ``FraudClient`` | the bank's and fraud service's APIs, typed |
///
/// Routes: `GET /healthz`; `GET /v2/token`; `POST /v2/charge`; `GET /v2/{id}/status`;
/// `POST /v2/{id}/cancel|approve|deny|expire|refund` and `/v2/{id}/refund/online/direct`;
/// `GET /v2/gopay|qris/{id}/qr-code`; the 3-D Secure page `GET|POST /v2/3ds/{transaction_id}`;
/// Snap's `POST /snap/v1/transactions`, its page `GET /snap/v2/vtweb/{token}` and the page's
/// `POST /snap/v2/transactions/{token}/charge`; the bank's payment notices `POST /bank/v1/payments`.
///
/// HTTP Basic auth with the server key; JSON with Midtrans' field names and string values; HTTP
/// status 200 for body codes 200/201/202/407, the body code otherwise.
public final class Gateway: Sendable {
    public let store: any GatewayStore
    /// Saved cards, linked GoPay accounts, subscriptions.
    public let accounts: any AccountStore
    public let configuration: GatewayConfiguration
    let merchants: MerchantDirectory
    let idempotency: IdempotencyGuard
    let vault: CardVault
    let ledger: TransactionLedger
    let obligations: BankObligations
    let flow: ChargeFlow
    let threeDSecure: ThreeDSecure
    let snap: Snap
    let cards: CardAPI
    let payAccounts: PayAccountAPI
    let linkedWallets: LinkedWalletCharge
    let core: CoreCharge
    let subscriptions: Subscriptions
    let paymentLinks: PaymentLinks
    let actions: MerchantActions
    /// The instructor's class view (`GET /instructor`).
    let instructor: InstructorView
    let timers: GatewayTimers
    /// The other instances on the same store, if any.
    let coordinator: any InstanceCoordinator
    private let publicURLBox: PublicURL
    /// Places where a test stops the gateway to force an interleaving (see ``Checkpoints``).
    public let checkpoints = Checkpoints<Step>()

    /// The gateway's checkpoints.
    public enum Step: Hashable, Sendable {
        /// A timer pass has listed the charges with a call in flight, and has not yet looked at
        /// which of them run in this process.
        case recoveryListed
        /// A payment link's charge has seen a use left, and has not claimed it yet.
        case paymentLinkChecked
        /// A timer pass has listed the subscriptions due, and has not claimed any yet.
        case subscriptionsListed
    }

    /// `ephemeral`: where card tokens and Snap sessions live (this process's memory for one
    /// instance; the shared database for several). `coordinator`: the other instances on the
    /// same store, if any.
    public init(configuration: GatewayConfiguration, store: any GatewayStore, accounts: any AccountStore, bankClient: HTTPClient,
                ephemeral: any EphemeralStore = MemoryEphemeralStore(), coordinator: any InstanceCoordinator = SoleInstance()) {
        self.configuration = configuration
        self.store = store
        self.accounts = accounts
        merchants = MerchantDirectory(store: store)
        self.coordinator = coordinator
        coordinator.onMerchantsChanged { [merchants] in merchants.invalidate() }
        idempotency = IdempotencyGuard(store: store, lifetime: configuration.idempotencyLifetime, now: configuration.now)
        vault = CardVault(lifetime: configuration.tokenLifetime, accounts: accounts, key: configuration.vaultKey, tokens: ephemeral)
        ledger = TransactionLedger(store: store, merchants: merchants, now: configuration.now)
        let bank = BankClient(baseURL: configuration.bankURL, key: configuration.bankNoticeKey, client: bankClient)
        obligations = BankObligations(store: store, bank: bank)
        let fraud = FraudClient(route: configuration.fraudURL.map { .service(url: $0, client: bankClient) }
            ?? .inProcess(FraudService(rules: configuration.fraudRules)))
        let box = PublicURL(configuration.publicURL)
        flow = ChargeFlow(ledger: ledger, store: store, bank: bank, fraud: fraud, vault: vault, obligations: obligations,
                          configuration: configuration, publicURL: box.get)
        threeDSecure = ThreeDSecure(flow: flow, merchants: merchants)
        snap = Snap(flow: flow, merchants: merchants, configuration: configuration, sessions: ephemeral, publicURL: box.get)
        cards = CardAPI(vault: vault, merchants: merchants, bank: bank, now: configuration.now)
        payAccounts = PayAccountAPI(accounts: accounts, merchants: merchants, bank: bank, now: configuration.now, publicURL: box.get)
        linkedWallets = LinkedWalletCharge(flow: flow, merchants: merchants, payAccounts: payAccounts, now: configuration.now, publicURL: box.get)
        core = CoreCharge(flow: flow, payAccounts: payAccounts, linkedWallets: linkedWallets)
        subscriptions = Subscriptions(accounts: accounts, merchants: merchants, store: store, charge: core, configuration: configuration,
                                      checkpoints: checkpoints)
        paymentLinks = PaymentLinks(accounts: accounts, merchants: merchants, flow: flow, configuration: configuration, publicURL: box.get,
                                    checkpoints: checkpoints)
        actions = MerchantActions(ledger: ledger, obligations: obligations, now: configuration.now)
        timers = GatewayTimers(ledger: ledger, store: store, obligations: obligations, flow: flow, subscriptions: subscriptions,
                               configuration: configuration, checkpoints: checkpoints, coordinator: coordinator)
        self.publicURLBox = box
        instructor = InstructorView(store: store, key: configuration.instructorKey)
    }

    /// The gateway's base URL as clients reach it (settable once the port is known).
    public var publicURL: String {
        get { publicURLBox.get() }
        set { publicURLBox.set(newValue) }
    }

    // MARK: Routes

    public var router: Router {
        var router = Router()
        // For a load balancer and monitors: 200 while this instance's store answers and the
        // other instances can see it alive, 503 otherwise (an instance cut off from its database
        // must be taken out of rotation). No key needed, nothing about merchants or payments said.
        router.get("/healthz") { [self] _ in
            do {
                _ = try store.find(merchantID: "", id: "")
                guard coordinator.isVisible else { throw GatewayError.internalFailure("the instance's session is down") }
                return HTTPResponse(status: 200, fields: HTTPFields(["Content-Type": "application/json", "Cache-Control": "no-store"]),
                                    body: .bytes(Array(#"{"status":"ok"}"#.utf8)))
            } catch {
                return HTTPResponse(status: 503, fields: HTTPFields(["Content-Type": "application/json", "Cache-Control": "no-store"]),
                                    body: .bytes(Array(#"{"status":"unavailable","reason":"the store does not answer"}"#.utf8)))
            }
        }
        router.get("/v2/token") { [self] request in try cards.token(request) }
        router.get("/v2/card/register") { [self] request in try cards.register(request) }
        router.get("/v2/point_inquiry/{token}") { [self] request in try await cards.pointInquiry(request) }
        router.post("/v2/charge") { [self] request in
            let merchant = try merchants.authenticate(request)
            return try await idempotency.run(request, merchant: merchant) {
                var charge = try ChargeRequest(body: request.body)
                try charge.readNotificationTargets(request)
                // Told now rather than found out at delivery: these URLs lead nowhere the merchant may send.
                for target in (charge.overrideNotificationURLs ?? []) + charge.appendNotificationURLs {
                    guard let url = try? HTTPURL(target) else { continue }
                    do { try await WebhookTarget.check(url, allowPrivate: merchant.allowsPrivateWebhooks) } catch {
                        throw GatewayError.validation(["X-Override-Notification and X-Append-Notification must be public http(s) URLs (\(target) leads to a private or loopback address)"])
                    }
                }
                return try chargeAnswer(await self.charge(charge, merchant: merchant), merchant: merchant)
            }
        }
        router.get("/v2/{id}/status") { [self] request in
            let merchant = try merchants.authenticate(request)
            let transaction = try ledger.find(merchantID: merchant.merchantID, id: request.pathParameters["id"] ?? "")
            var fields = transaction.fields(statusCode: transaction.statusAnswerCode, serverKey: merchant.serverKey)
            fields["status_message"] = "Success, transaction is found"
            return Self.answer(fields)
        }
        // Every transaction made under one order id (a B2B account is paid more than once; a
        // merchant re-charges an order after a failure), latest first, `page` × `per_page`.
        router.get("/v2/{id}/status/b2b") { [self] request in
            let merchant = try merchants.authenticate(request)
            let latest = try ledger.find(merchantID: merchant.merchantID, id: request.pathParameters["id"] ?? "")
            let query = request.queryParameters
            let page = max(0, Int(query["page"] ?? "") ?? 0), perPage = min(100, max(1, Int(query["per_page"] ?? "") ?? 10))
            let all = try storing { try store.transactions(merchantID: merchant.merchantID, orderID: latest.orderID) }
            let shown = all.dropFirst(page * perPage).prefix(perPage)
            return Self.answer(["status_code": "200", "status_message": "Success, transactions are retrieved",
                                "transactions": shown.map { $0.fields(statusCode: $0.statusAnswerCode, serverKey: merchant.serverKey) }])
        }
        for action in MerchantActions.Action.allCases {
            router.post("/v2/{id}/\(action.rawValue)") { [self] request in
                let merchant = try merchants.authenticate(request)
                return try await idempotency.run(request, merchant: merchant) {
                    Self.answer(try await actions.perform(action, id: request.pathParameters["id"] ?? "", merchant: merchant))
                }
            }
        }
        let refund: HTTPHandler = { [self] request in
            let merchant = try merchants.authenticate(request)
            return try await idempotency.run(request, merchant: merchant) {
                Self.answer(try await actions.refund(id: request.pathParameters["id"] ?? "", body: request.body,
                                                     idempotencyKey: request.fields["Idempotency-Key"], merchant: merchant))
            }
        }
        router.post("/v2/capture") { [self] request in
            let merchant = try merchants.authenticate(request)
            return try await idempotency.run(request, merchant: merchant) {
                Self.answer(try await actions.capture(body: request.body, merchant: merchant))
            }
        }
        router.post("/v2/{id}/refund", refund)
        router.post("/v2/{id}/refund/online/direct", refund)
        // The QR image the `generate-qr-code` action links to: opened by the customer's browser
        // or phone (no key; the transaction id is the unguessable part), drawn from `qr_string`.
        for type in [PaymentType.gopay, .qris] {
            router.get("/v2/\(type.rawValue)/{id}/qr-code") { [self] request in
                try qrImage(transactionID: request.pathParameters["id"] ?? "", type: type, request: request)
            }
        }
        router.get("/v2/3ds/{id}") { [self] request in try threeDSecure.page(request) }
        router.post("/v2/3ds/{id}") { [self] request in
            let result = try await threeDSecure.verify(request)
            let merchant = try merchants.merchant(id: result.transaction.merchantID) ?? { throw GatewayError.unknownMerchant }()
            var answer = try chargeAnswer(result, merchant: merchant, forBrowser: true)
            // A form posted without the page's script: back to the merchant, or a page that
            // says what happened (never raw JSON in a customer's browser).
            if BrowserRequest.isFormPost(request) {
                let transaction = result.transaction
                if let callback = BrowserRequest.fields(request)["callback_url"], !callback.isEmpty, (try? HTTPURL(callback)) != nil {
                    answer = HTTPResponse(status: 303, fields: HTTPFields(["Location": Self.finishRedirect(callback, transaction)]), body: .bytes([]))
                } else {
                    let paid = [.capture, .settlement, .authorize].contains(transaction.state.status)
                    answer = PageAssets.message(title: "3-D Secure", heading: paid ? "Payment confirmed" : "Payment not confirmed",
                                                message: result.message, ok: paid)
                }
            }
            return answer
        }
        router.post("/snap/v1/transactions") { [self] request in
            try snap.create(request, merchant: try merchants.authenticate(request))
        }
        router.get("/snap/v2/vtweb/{token}") { [self] request in try snap.page(request) }
        router.post("/snap/v2/transactions/{token}/charge") { [self] request in
            // The page's script, and nothing else: no cross-site form can pay through a token.
            try BrowserRequest.requireSameSiteJSON(request)
            let (result, merchant, finishURL) = try await snap.charge(request)
            return try chargeAnswer(result, merchant: merchant, finishURL: finishURL, forBrowser: true)
        }
        router.get("/snap/v2/transactions/{token}/status") { [self] request in try snap.status(request) }
        // The browser side: snap.js, the card script, the pages' scripts and style.
        for (path, file) in [("/snap/snap.js", "gateway/snap.js"), ("/snap/assets/snap-page.js", "gateway/snap-page.js"),
                             ("/v2/assets/js/midtrans-new-3ds.min.js", "gateway/midtrans-new-3ds.js"),
                             ("/v2/assets/js/3ds-page.js", "gateway/3ds-page.js"), ("/assets/netlab.css", "common/netlab.css"),
                             ("/assets/instructor.js", "gateway/instructor.js")] {
            router.get(path) { _ in try PageAssets.asset(file) }
        }
        router.get("/v2/gopay/{id}/verify") { [self] request in try linkedWallets.page(request, find: transaction(id:)) }
        router.post("/v2/gopay/{id}/verify") { [self] request in try await linkedWallets.verify(request, find: transaction(id:)) }
        router.post("/v2/pay/account") { [self] request in try await idempotent(request) { try await payAccounts.link(request) } }
        router.get("/v2/pay/account/{id}") { [self] request in try await payAccounts.get(request) }
        router.post("/v2/pay/account/{id}/unbind") { [self] request in try await idempotent(request) { try await payAccounts.unbind(request) } }
        router.get("/v2/pay/account/{id}/link") { [self] request in try payAccounts.activationPage(request) }
        router.post("/v2/pay/account/{id}/link") { [self] request in try await payAccounts.activate(request) }
        router.post("/v1/subscriptions") { [self] request in try await idempotent(request) { try subscriptions.create(request) } }
        router.get("/v1/subscriptions/{id}") { [self] request in try subscriptions.get(request) }
        router.patch("/v1/subscriptions/{id}") { [self] request in try subscriptions.patch(request) }
        router.post("/v1/subscriptions/{id}/enable") { [self] request in try await idempotent(request) { try subscriptions.setActive(request, true) } }
        router.post("/v1/subscriptions/{id}/disable") { [self] request in try await idempotent(request) { try subscriptions.setActive(request, false) } }
        router.post("/v1/payment-links") { [self] request in try await idempotent(request) { try paymentLinks.create(request) } }
        router.get("/v1/payment-links/{id}") { [self] request in try paymentLinks.get(request) }
        router.delete("/v1/payment-links/{id}") { [self] request in try paymentLinks.delete(request) }
        router.get("/payment-links/{id}") { [self] request in try paymentLinks.page(request) }
        router.get("/payment-links/{id}/purchases/{order}") { [self] request in try paymentLinks.purchase(request) }
        router.post("/payment-links/{id}/charge") { [self] request in
            try BrowserRequest.requireSameSiteJSON(request)
            let (result, merchant, finishURL) = try await paymentLinks.charge(request)
            return try chargeAnswer(result, merchant: merchant, finishURL: finishURL, forBrowser: true)
        }
        router.get("/v1/bins/{bin}") { [self] request in try cards.binLookup(request) }
        router.get("/instructor") { [self] request in try instructor.page(request) }
        router.get("/v1/instructor/merchants") { [self] request in try instructor.merchants(request) }
        router.post("/bank/v1/payments") { [self] request in try await bankNotice(request) }
        // Every answer is JSON, unknown routes included (a client SDK parses every body).
        router.fallback = { _ in throw GatewayError.routeNotFound }
        return router
    }

    /// Runs a merchant's POST under its `Idempotency-Key`, if it sent one (a retried create
    /// answers the first one's answer instead of creating twice).
    func idempotent(_ request: HTTPRequest, _ body: () async throws -> HTTPResponse) async throws -> HTTPResponse {
        let merchant = try merchants.authenticate(request)
        return try await idempotency.run(request, merchant: merchant, body)
    }

    /// A charge from the Core API (or a subscription): through the charge flow, then — for a
    /// linked GoPay account — paid from the wallet.
    func charge(_ charge: ChargeRequest, merchant: MerchantAccount) async throws(GatewayError) -> ChargeFlow.Result {
        try await core(charge, merchant: merchant)
    }

    // MARK: The one error path

    /// Server configuration for the gateway: every failure — a handler's ``GatewayError``, the
    /// server's own 404/405/408 and parse errors — answers in the shape of the API it was for.
    public static var serverConfiguration: HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration()
        configuration.errorBody = { error in errorResponse(GatewayError(error), for: .core) }
        configuration.handlerErrorResponse = { error, request in
            // A form posted without a script (the OTP page's fallback) gets a page, not JSON.
            errorResponse(GatewayError(error), for: BrowserRequest.isFormPost(request) ? .page : GatewayAPI(path: request.path, method: request.method))
        }
        // Card tokens travel in the query of GET /v2/token (as Midtrans' JS does): never log it.
        configuration.redactQueryInAccessLog = true
        return configuration
    }

    /// An error as its API answers it: Core API `{"status_code", "status_message", "id",
    /// "validation_messages"?}` with the same HTTP status (202 and 407 answer HTTP 200); Snap
    /// `{"error_messages": [...]}`; a page, HTML.
    public static func errorResponse(_ error: GatewayError, for api: GatewayAPI) -> HTTPResponse {
        switch api {
        case .core:
            var object: [String: Any] = ["status_code": String(error.status), "status_message": error.message, "id": UUID().uuidString.lowercased()]
            if !error.details.isEmpty { object["validation_messages"] = error.details }
            return answer(object)
        case .snap:
            // Snap words a wrong key its own way (the SDKs' tests look for "unauthorized").
            let message = error == .unknownMerchant ? "Access denied due to unauthorized transaction, please check client or server key" : error.message
            let messages = error.details.isEmpty ? [message] : error.details
            return HTTPResponse(status: error.status, fields: HTTPFields(["Content-Type": "application/json"]),
                                body: .bytes((try? JSONText.encode(["error_messages": messages])) ?? []))
        case .paymentLink:
            // Midtrans answers a wrong key here with a string, every other error with a list.
            let messages: Any = error == .unknownMerchant ? "Access denied due to unauthorized request"
                : (error.details.isEmpty ? [error.message] : error.details)
            return JSONText.response(["error_messages": messages], status: error.status)
        case .subscription:
            var object: [String: Any] = ["status_message": error.message]
            if !error.details.isEmpty { object["validation_messages"] = error.details }
            return JSONText.response(object, status: error.status)
        case .page:
            return PageAssets.message(title: "Payment", heading: error.status == 404 ? "Not found" : "Something went wrong", message: error.message,
                                      ok: false, status: error.status)
        }
    }

    /// Where a page sends the customer back to the merchant: `url` with the transaction's
    /// `order_id`, `status_code` and `transaction_status` in the query (Midtrans' finish and
    /// callback URLs), the one place this query is made.
    static func finishRedirect(_ url: String, _ transaction: GatewayTransaction) -> String {
        let query = "order_id=\(queryEscaped(transaction.orderID))&status_code=\(transaction.state.statusCode)"
            + "&transaction_status=\(transaction.state.status.rawValue)"
        return url + (url.contains("?") ? "&" : "?") + query
    }

    static func queryEscaped(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? text
    }

    /// JSON with Midtrans' conventions: HTTP 200 for body codes below 300 and 407, else the code.
    static func answer(_ fields: [String: Any]) -> HTTPResponse {
        var response = HTTPResponse(status: 200, fields: HTTPFields(["Content-Type": "application/json"]),
                                    body: .bytes((try? JSONText.encode(fields)) ?? Array("{}".utf8)))
        if let code = Int(fields["status_code"] as? String ?? ""), code >= 300, code != 407 { response.status = code }
        return response
    }

    // MARK: Answers

    /// A charge's (or OTP's) answer: the transaction, Midtrans' message, and for 3-D Secure the
    /// page to send the customer to.
    /// `forBrowser`: the answer goes to a page's script (Snap, a payment link, 3-D Secure), not
    /// to the merchant's server — without `signature_key`, which is the server's to check.
    func chargeAnswer(_ result: ChargeFlow.Result, merchant: MerchantAccount, finishURL: String? = nil,
                      forBrowser: Bool = false) throws(GatewayError) -> HTTPResponse {
        let transaction = result.transaction
        var fields = transaction.fields(statusCode: transaction.state.statusCode, serverKey: merchant.serverKey)
        if forBrowser { fields["signature_key"] = nil }
        fields["status_message"] = result.message
        if case .awaitingAuthentication = transaction.charge {
            fields["redirect_url"] = ThreeDSecure.redirectURL(gatewayURL: publicURL, transactionID: transaction.transactionID, clientKey: merchant.clientKey)
        }
        if transaction.state.status == .deny, transaction.state.fraud != .deny {
            fields["status_message"] = result.bankMessage ?? result.message
            if fields["channel_response_message"] == nil { fields["channel_response_message"] = result.bankMessage ?? result.message }
        }
        if let finishURL {
            // Snap's page sends the customer back to the merchant with the outcome (Midtrans'
            // `finish_redirect_url`: the order, its status code and status in the query).
            fields["finish_redirect_url"] = Self.finishRedirect(finishURL, transaction)
        }
        return Self.answer(fields)
    }

    /// `GET /v2/{gopay|qris}/{transaction_id}/qr-code`: the transaction's QR code as a PNG (as
    /// Midtrans serves it), or as SVG for `?format=svg` or an `Accept` that prefers it.
    func qrImage(transactionID: String, type: PaymentType, request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        guard let transaction = try transaction(id: transactionID), transaction.paymentType == type,
            let text = transaction.extra["qr_string"]
        else { throw .transactionNotFound }
        let code: QRCode
        do {
            code = try QRCode(text)
        } catch {
            throw .internalFailure("qr_string does not fit a QR code: \(error)")
        }
        let accept = request.fields["Accept"] ?? ""
        var fields = HTTPFields(["Cache-Control": "no-store"])
        if request.queryParameters["format"] == "svg" || (accept.contains("image/svg+xml") && !accept.contains("image/png")) {
            try? fields.append(name: "Content-Type", value: "image/svg+xml")
            return HTTPResponse(status: 200, fields: fields, body: .bytes(Array(code.svg().utf8)))
        }
        try? fields.append(name: "Content-Type", value: "image/png")
        return HTTPResponse(status: 200, fields: fields, body: .bytes(code.png()))
    }

    /// The transaction with this transaction id, whoever's it is (for callers that hold only
    /// the id: the bank, a customer's browser).
    func transaction(id transactionID: String) throws(GatewayError) -> GatewayTransaction? {
        for merchant in try storing({ try store.merchants() }) {
            if let found = try storing({ try store.find(merchantID: merchant.merchantID, id: transactionID) }), found.transactionID == transactionID {
                return found
            }
        }
        return nil
    }

    // MARK: The bank's side

    /// `POST /bank/v1/payments` with a ``BankAPI/PaymentNotice``: the bank says an account was paid.
    func bankNotice(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let header = request.fields["Authorization"], header.hasPrefix("Bearer "),
            ConstantTime.equal(String(header.dropFirst(7)), configuration.bankNoticeKey)
        else { throw GatewayError.unknownBank }
        guard let notice = try? request.decodeJSON(BankAPI.PaymentNotice.self) else {
            throw GatewayError.malformedBody("a payment notice is {reference, amount, channel}")
        }
        guard try await bankPaid(reference: notice.reference) else { throw GatewayError.transactionNotFound }
        return Self.answer(["status_code": "200", "status_message": "payment recorded"])
    }

    /// The bank's notice that a waiting payment (VA, bill, QR, e-wallet) was paid. A payment for
    /// a transaction that can no longer take it (expired, cancelled) is given back: the bank is
    /// owed a reversal, which returns the money. False if no transaction has that reference.
    @discardableResult
    public func bankPaid(reference transactionID: String) async throws -> Bool {
        guard let found = try transaction(id: transactionID) else { return false }
        let merchantID = found.merchantID
        let now = configuration.now()
        do {
            try ledger.record(.paid, merchantID: merchantID, id: transactionID, alongside: { transaction throws(GatewayError) in
                PaymentChannel.settle(&transaction, at: now)
            })
        } catch GatewayError.illegalTransition(let status) where [.cancel, .expire, .failure, .deny].contains(status) {
            // Too late: the order is dead. The money goes back to the customer. (Any other
            // refusal is this notice again — the payment was already recorded.)
            let owed = try ledger.amend(merchantID: merchantID, id: transactionID) { transaction throws(GatewayError) -> GatewayTransaction in
                if transaction.state.owesReversal { transaction.reversalOwed = true }
                return transaction
            }
            await obligations.settle(owed)
        } catch GatewayError.illegalTransition {
            // Paid twice: the bank refuses a second payment into one account; nothing to do.
        }
        return true
    }

    // MARK: Timers

    /// One pass of the timers (recovery, expiry, settlement, the bank's dues); returns how many changed.
    @discardableResult
    public func applyTimers() async throws -> Int {
        try await timers.pass()
    }

    /// Runs ``applyTimers()`` every `interval` until the task is cancelled.
    public func runTimers(every interval: Duration) async {
        while !Task.isCancelled {
            _ = try? await applyTimers()
            try? await Task.sleep(for: interval)
        }
    }
}

/// The gateway's public base URL, settable once the server listens (parts read it through `get`).
final class PublicURL: Sendable {
    private let value: Locked<String>
    init(_ initial: String) { value = Locked(initial) }
    var get: @Sendable () -> String { { [self] in value.withLock { $0 } } }
    func set(_ url: String) { value.withLock { $0 = url } }
}
