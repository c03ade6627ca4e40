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
/// `GET /snap/v2/transactions/{token}/status`. Sessions are kept in the ``EphemeralStore`` until
/// they expire: one gateway's memory, or — instances sharing PostgreSQL — the database, so the
/// page opens on whichever instance the browser reaches.
final class Snap: Sendable {
    private struct Session: Codable {
        var merchantID: String
        /// The creating request's JSON.
        var body: Data
        var expires: Date
        /// Its `X-Override-Notification` / `X-Append-Notification`, for the charge the page makes.
        var overrideURLs: [String]?
        var appendURLs: [String]
        var transactionID: String? { if case .made(let id) = payment { id } else { nil } }
        /// Its `expiry`: the page's and the payment's.
        var expiryFrom: Date?
        var expiryLasts: Duration?
        var orderID: String
        /// `enabled_payments`, resolved: the ways the page offers (all when absent).
        var methods: [SnapPaymentMethod]
        /// `callbacks.finish`: where the page sends the customer once the payment is made.
        var finishURL: String?
        /// `credit_card.secure`: card payments go through 3-D Secure.
        var secure: Bool
        /// Where the page's one payment is.
        var payment: Payment = .open

        var expiry: (from: Date?, lasts: Duration)? { expiryLasts.map { (expiryFrom, $0) } }

        func encoded() -> [UInt8] { (try? JSONEncoder().encode(self)).map(Array.init) ?? [] }
        static func decoded(_ bytes: [UInt8]) -> Session? { try? JSONDecoder().decode(Session.self, from: Data(bytes)) }
    }

    private enum Payment: Equatable, Codable {
        case open
        /// A charge is running since then (a second one is refused — unless this one is older
        /// than any charge lasts: its instance died, and the page may be used again; the order
        /// id's reservation still lets only one charge through).
        case charging(since: Date)
        /// The page's transaction.
        case made(transactionID: String)
    }

    private let sessions: any EphemeralStore
    let flow: ChargeFlow
    let merchants: MerchantDirectory
    let configuration: GatewayConfiguration
    let publicURL: @Sendable () -> String

    init(flow: ChargeFlow, merchants: MerchantDirectory, configuration: GatewayConfiguration, sessions: any EphemeralStore,
         publicURL: @escaping @Sendable () -> String) {
        self.sessions = sessions
        self.flow = flow
        self.merchants = merchants
        self.configuration = configuration
        self.publicURL = publicURL
    }

    /// `POST /snap/v1/transactions`.
    func create(_ request: HTTPRequest, merchant: MerchantAccount) throws(GatewayError) -> HTTPResponse {
        // Sessions are kept until they expire: each may hold at most this much.
        guard request.body.count <= Self.maximumBody else { throw .validation(["the request body is at most \(Self.maximumBody / 1024) KB"]) }
        guard try storing({ try sessions.count(.snapSession, now: configuration.now()) }) < Self.maximumSessions else { throw .tooManySessions }
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
        let session = Session(merchantID: merchant.merchantID, body: Data(request.body), expires: expires,
                              overrideURLs: targets.overrideURLs, appendURLs: targets.appendURLs, expiryFrom: expiry?.from,
                              expiryLasts: expiry?.lasts, orderID: orderID, methods: methods, finishURL: finish ?? merchant.finishURL, secure: secure)
        let now = configuration.now()
        // Kept past its expiry for the grace (the page still says its time ran out).
        let kept = expires.addingTimeInterval(Self.grace)
        try storing {
            try sessions.put(.snapSession, key: token, value: session.encoded(), now: now, expires: kept)
            // The order's older page goes: the new one replaces it.
            let older = try sessions.update(.snapOrder, key: "\(merchant.merchantID)|\(orderID)", now: now, expires: kept, renew: true) { current -> [UInt8]? in
                defer { current = Array(token.utf8) }
                return current
            }
            if let older, older != Array(token.utf8) {
                try sessions.update(.snapSession, key: String(decoding: older, as: UTF8.self), now: now, expires: now) { $0 = nil }
            }
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
        // A charge under way (or whose note did not get stored) is found by the page's order id.
        guard let id = kept.transactionID ?? (kept.payment == .open ? nil : kept.orderID) else { throw .transactionNotFound }
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
        (request.overrideNotificationURLs, request.appendNotificationURLs) = (kept.overrideURLs, kept.appendURLs)
        if let expiry = kept.expiry { request.customExpiry = expiry }
        // One payment per page, claimed before the charge runs.
        let started = configuration.now()
        guard try changeSession(token, to: .charging(since: started), if: { payment in
            switch payment {
            case .open: true
            case .charging(let since): started.timeIntervalSince(since) > Self.abandonedCharge
            case .made: false
            }
        }) else { throw .snapTransactionProcessed }
        let result: ChargeFlow.Result
        do {
            result = try await flow.charge(request, merchant: merchant)
        } catch {
            // Refused (a declined validation, a used card token…): the page may try again.
            _ = try? changeSession(token, to: .open, if: { $0 == .charging(since: started) })
            throw error
        }
        // The payment is made whatever happens to this note: the page's status finds it by the
        // order id too (a failure to store it must not turn a paid charge into an error).
        _ = try? changeSession(token, to: .made(transactionID: result.transaction.transactionID), if: { $0 == .charging(since: started) })
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

    /// How long a charge may have been "running" before its page may be used again: longer than
    /// any charge lasts (its calls give up after 20 s each).
    static let abandonedCharge: TimeInterval = 120

    /// How long a page whose time ran out is kept to say so (and to follow a payment made in time).
    static let grace: TimeInterval = 3600

    /// The session of `token`; one past its expiry only when `evenIfExpired` (and within ``grace``).
    private func session(_ token: String, evenIfExpired: Bool = false) throws(GatewayError) -> (MerchantAccount, [String: Any], Session) {
        let now = configuration.now()
        guard let session = try storing({ try sessions.get(.snapSession, key: token, now: now) }).flatMap(Session.decoded),
            session.expires > now || (evenIfExpired && session.expires.addingTimeInterval(Self.grace) > now),
            let merchant = try merchants.merchant(id: session.merchantID)
        else { throw .snapTokenNotFound }
        return (merchant, (try? JSONSerialization.jsonObject(with: session.body)) as? [String: Any] ?? [:], session)
    }

    /// Moves the page's payment to `next` in one atomic step if `allowed` says so of where it
    /// is; false when not (another request, perhaps on another instance, got there first).
    private func changeSession(_ token: String, to next: Payment, if allowed: (Payment) -> Bool) throws(GatewayError) -> Bool {
        let now = configuration.now()
        return try storing {
            try sessions.update(.snapSession, key: token, now: now, expires: now) { stored -> Bool in
                guard var session = stored.flatMap(Session.decoded), allowed(session.payment) else { return false }
                session.payment = next
                stored = session.encoded()
                return true
            }
        }
    }
}
