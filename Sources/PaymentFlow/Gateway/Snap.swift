import Foundation
import HTTPParser
import NetLab
import TCPSocket

/// Snap: a payment page for an order, where the customer chooses how to pay.
///
/// `POST /snap/v1/transactions` (server key) keeps the order for a session and answers
/// `{token, redirect_url}`; `GET /snap/v2/vtweb/{token}` is the page (Pages/gateway/snap.html
/// and its script), full-screen in redirect mode or in `snap.js`'s popup; the page's script
/// posts the chosen payment to `POST /snap/v2/transactions/{token}/charge`, which charges
/// through the same ``ChargeFlow`` as the Core API — once per page: the charge is claimed in the
/// session first, so a double click cannot pay twice — and follows it with
/// `GET /snap/v2/transactions/{token}/status`. Sessions live in memory until they expire.
final class Snap: Sendable {
    private struct Session {
        var merchantID: String
        /// The creating request's JSON.
        var body: [UInt8]
        var expires: Date
        /// Its `X-Override-Notification` / `X-Append-Notification`, for the charge the page makes.
        var notificationTargets: (override: [String]?, append: [String])
        var transactionID: String? { if case .made(let id) = payment { id } else { nil } }
        /// Its `expiry`: the page's and the payment's.
        var expiry: (from: Date?, lasts: Duration)?
        var orderID: String
        /// `enabled_payments`, resolved: the ways the page offers (all when absent).
        var methods: [SnapPaymentMethod]
        /// `callbacks.finish`: where the page sends the customer once the payment is made.
        var finishURL: String?
        /// `credit_card.secure`: card payments go through 3-D Secure.
        var secure: Bool
        /// Where the page's one payment is.
        var payment: Payment = .open
    }

    private enum Payment: Equatable {
        case open
        /// A charge is running (a second one is refused).
        case charging
        /// The page's transaction.
        case made(transactionID: String)
    }

    private let sessions = Locked<[String: Session]>([:])
    let flow: ChargeFlow
    let merchants: MerchantDirectory
    let configuration: GatewayConfiguration
    let publicURL: @Sendable () -> String

    init(flow: ChargeFlow, merchants: MerchantDirectory, configuration: GatewayConfiguration, publicURL: @escaping @Sendable () -> String) {
        self.flow = flow
        self.merchants = merchants
        self.configuration = configuration
        self.publicURL = publicURL
    }

    /// `POST /snap/v1/transactions`.
    func create(_ request: HTTPRequest, merchant: MerchantAccount) throws(GatewayError) -> HTTPResponse {
        // Sessions live in memory until they expire: each may hold at most this much.
        guard request.body.count <= Self.maximumBody else { throw .validation(["the request body is at most \(Self.maximumBody / 1024) KB"]) }
        guard sessions.withLock({ $0.count }) < Self.maximumSessions else { throw .tooManySessions }
        guard let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw .validation(["transaction_details is required"])
        }
        let details = body["transaction_details"] as? [String: Any] ?? [:]
        var problems = ChargeRequest.orderIDProblems(details["order_id"] as? String ?? "")
        if (ChargeRequest.amount(details["gross_amount"])?.amount ?? 0) <= 0 {
            problems.append("transaction_details.gross_amount must be greater than or equal to 0.01")
        }
        var expiry: (from: Date?, lasts: Duration)?
        if let value = body["expiry"] {
            switch ChargeRequest.expiry(value, field: "expiry", start: "start_time", duration: "duration") {
            case .success(let parsed): expiry = parsed
            case .failure(let problem): problems.append(problem.message)
            }
        }
        let methods = SnapPaymentMethod.resolve(body["enabled_payments"], problems: &problems)
        let finish = Self.finishURL(body, problems: &problems)
        guard problems.isEmpty else { throw .validation(problems) }
        let orderID = details["order_id"] as? String ?? ""
        // An order that already has a live transaction cannot get a page (Midtrans: "has already
        // been taken"); an unpaid one can, and the new page replaces the old.
        let existing = try storing { try flow.store.transactions(merchantID: merchant.merchantID, orderID: orderID) }
        if existing.contains(where: { ![.deny, .cancel, .expire, .failure].contains($0.state.status) }) {
            throw .validation(["transaction_details.order_id has already been taken"])
        }
        let token = UUID().uuidString.lowercased()
        // The page lives as long as the payment may wait (Snap's `expiry`, else the default).
        let expires = (expiry?.from ?? configuration.now()).addingTimeInterval(Timestamp.seconds(expiry?.lasts ?? configuration.paymentExpiry))
        // The notification headers belong to the transaction the page will make: checked now,
        // kept with the session.
        var targets = ChargeRequest.Targets()
        try targets.read(request)
        let secure = ((body["credit_card"] as? [String: Any])?["secure"] as? NSNumber)?.boolValue ?? false
        let session = Session(merchantID: merchant.merchantID, body: request.body, expires: expires,
                              notificationTargets: (targets.overrideURLs, targets.appendURLs), expiry: expiry, orderID: orderID,
                              methods: methods, finishURL: finish ?? merchant.finishURL, secure: secure)
        let now = configuration.now()
        sessions.withLock { sessions in
            // The order's older page goes (the new one replaces it), and so does every page past its grace.
            sessions = sessions.filter {
                ($0.value.merchantID != merchant.merchantID || $0.value.orderID != orderID) && $0.value.expires.addingTimeInterval(Self.grace) > now
            }
            sessions[token] = session
        }
        let object: [String: Any] = ["token": token, "redirect_url": "\(publicURL())/snap/v2/vtweb/\(token)"]
        return HTTPResponse(status: 201, fields: HTTPFields(["Content-Type": "application/json"]),
                            body: .bytes((try? JSONText.encode(object)) ?? []))
    }

    /// `GET /snap/v2/vtweb/{token}`: the order and the ways to pay (``PaymentPage``). A page
    /// whose time ran out still says so (for an hour), and a page that is gone says that —
    /// to its opener too — rather than leave it waiting.
    func page(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let token = request.pathParameters["token"] ?? ""
        let parent = BrowserRequest.origin(request.queryParameters["origin"])
        guard let (merchant, body, kept) = try? session(token, evenIfExpired: true) else {
            return try PaymentPage(state: .gone, parent: parent).response(status: 404)
        }
        let details = body["transaction_details"] as? [String: Any] ?? [:]
        let remaining = Timestamp.millis(kept.expires) - Timestamp.millis(configuration.now())
        var page = PaymentPage(state: remaining > 0 || kept.transactionID != nil ? .open : .expired, parent: parent)
        page.orderID = kept.orderID
        page.amount = ChargeRequest.amount(details["gross_amount"]) ?? .zero
        page.clientKey = merchant.clientKey
        page.methods = kept.methods
        page.items = body["item_details"] as? [[String: Any]] ?? []
        page.remaining = max(0, remaining)
        page.transactionID = kept.transactionID
        page.chargePath = "/snap/v2/transactions/\(token)/charge"
        page.statusPath = "/snap/v2/transactions/\(token)/status"
        page.bankOrigin = BrowserRequest.origin(of: configuration.publicBankURL ?? configuration.bankURL)
        return try page.response()
    }

    /// `GET /snap/v2/transactions/{token}/status`: the page's transaction as its script follows it.
    func status(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let (merchant, _, kept) = try session(request.pathParameters["token"] ?? "", evenIfExpired: true)
        guard let id = kept.transactionID else { throw .transactionNotFound }
        let transaction = try flow.ledger.find(merchantID: merchant.merchantID, id: id)
        return PaymentPage.status(of: transaction, merchant: merchant, gatewayURL: publicURL(), finishURL: kept.finishURL)
    }

    /// `POST /snap/v2/transactions/{token}/charge`: the order from the session — its details,
    /// items, customer, custom fields, metadata and notification targets — and the payment
    /// method from the page (which cannot change the order).
    func charge(_ request: HTTPRequest) async throws(GatewayError) -> (ChargeFlow.Result, MerchantAccount, finishURL: String?) {
        let token = request.pathParameters["token"] ?? ""
        let (merchant, session, kept) = try session(token)
        var request = try Self.pageCharge(request.body, order: session, methods: kept.methods, secure: kept.secure)
        (request.overrideNotificationURLs, request.appendNotificationURLs) = kept.notificationTargets
        if let expiry = kept.expiry { request.customExpiry = expiry }
        // One payment per page, claimed before the charge runs.
        let claimed = sessions.withLock { sessions -> Bool in
            guard sessions[token]?.payment == .open else { return false }
            sessions[token]?.payment = .charging
            return true
        }
        guard claimed else { throw .snapTransactionProcessed }
        let result: ChargeFlow.Result
        do {
            result = try await flow.charge(request, merchant: merchant)
        } catch {
            // Refused (a declined validation, a used card token…): the page may try again.
            sessions.withLock { sessions in if sessions[token]?.payment == .charging { sessions[token]?.payment = .open } }
            throw error
        }
        let id = result.transaction.transactionID
        sessions.withLock { sessions in sessions[token]?.payment = .made(transactionID: id) }
        return (result, merchant, kept.finishURL)
    }

    /// `callbacks.finish`: where a page sends the customer afterwards — an http(s) URL (a
    /// `javascript:` one would run in the customer's browser), at most 255 characters.
    static func finishURL(_ body: [String: Any], problems: inout [String]) -> String? {
        guard let finish = (body["callbacks"] as? [String: Any])?["finish"] else { return nil }
        guard let text = finish as? String, text.utf8.count <= 255, (try? HTTPURL(text)) != nil else {
            problems.append("callbacks.finish must be an http(s) URL of at most 255 characters")
            return nil
        }
        return text
    }

    /// A payment page's charge (Snap's, a payment link's): the payment method the page posted
    /// (`body`: `payment_type` and its object), and the order from the merchant's request —
    /// details, items, customer, custom fields, metadata, expiry — which the page cannot change.
    /// The method must be one the merchant enabled; whether a card goes through 3-D Secure is
    /// the merchant's choice too.
    static func pageCharge(_ body: [UInt8], order: [String: Any], methods: [SnapPaymentMethod], secure: Bool) throws(GatewayError) -> ChargeRequest {
        guard var choice = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw .validation(["the body must be a JSON object with payment_type"])
        }
        for field in ["transaction_details", "item_details", "customer_details", "custom_field1", "custom_field2", "custom_field3", "metadata",
                      "custom_expiry"] {
            choice[field] = order[field]
        }
        guard let method = SnapPaymentMethod.chosen(choice), methods.contains(method) else {
            throw .validation(["payment_type is not enabled for this transaction: choose one of " + methods.map(\.rawValue).joined(separator: ", ")])
        }
        if method == .creditCard {
            // The page gives the token; everything else about the card is the merchant's:
            // 3-D Secure, pre-authorisation, the accepted BINs.
            let merchant = order["credit_card"] as? [String: Any] ?? [:]
            var card: [String: Any] = ["authentication": secure]
            card["token_id"] = (choice["credit_card"] as? [String: Any])?["token_id"]
            card["type"] = merchant["type"]
            card["bins"] = merchant["whitelist_bins"] ?? merchant["bins"]
            choice["credit_card"] = card
        }
        var request = try ChargeRequest(json: choice)
        request.allowsSavedCard = false
        return request
    }

    /// The largest Snap request kept (an order with a hundred items fits in a tenth of it).
    static let maximumBody = 64 * 1024
    /// The most pages open at once (memory stays bounded: at most this many × ``maximumBody``).
    static let maximumSessions = 10_000

    /// How long a page whose time ran out is kept to say so (and to follow a payment made in time).
    static let grace: TimeInterval = 3600

    /// The session of `token`; one past its expiry only when `evenIfExpired` (and within ``grace``).
    private func session(_ token: String, evenIfExpired: Bool = false) throws(GatewayError) -> (MerchantAccount, [String: Any], Session) {
        let now = configuration.now()
        guard let session = sessions.withLock({ $0[token] }),
            session.expires > now || (evenIfExpired && session.expires.addingTimeInterval(Self.grace) > now),
            let merchant = try merchants.merchant(id: session.merchantID)
        else { throw .snapTokenNotFound }
        return (merchant, (try? JSONSerialization.jsonObject(with: Data(session.body))) as? [String: Any] ?? [:], session)
    }
}
