import Foundation
import HTTPParser
import NetLab
import Synchronization

/// Snap: a payment page for an order, where the customer chooses how to pay.
///
/// `POST /snap/v1/transactions` (server key) keeps the order for a session and answers
/// `{token, redirect_url}`; `GET /snap/v2/vtweb/{token}` is the page; the page's scripts post
/// the chosen payment to `POST /snap/v2/transactions/{token}/charge`, which charges through the
/// same ``ChargeFlow`` as the Core API. Sessions live in memory until paid or expired.
final class Snap: Sendable {
    private struct Session {
        var merchantID: String
        /// The creating request's JSON.
        var body: [UInt8]
        var expires: Date
        /// Its `X-Override-Notification` / `X-Append-Notification`, for the charge the page makes.
        var notificationTargets: (override: [String]?, append: [String])
        /// Its `expiry`: the page's and the payment's.
        var expiry: (from: Date?, lasts: Duration)?
    }

    private let sessions = Mutex<[String: Session]>([:])
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
        guard problems.isEmpty else { throw .validation(problems) }
        let token = UUID().uuidString.lowercased()
        // The page lives as long as the payment may wait (Snap's `expiry`, else the default).
        let expires = (expiry?.from ?? configuration.now()).addingTimeInterval(Timestamp.seconds(expiry?.lasts ?? configuration.paymentExpiry))
        // The notification headers belong to the transaction the page will make: checked now,
        // kept with the session.
        var targets = ChargeRequest.Targets()
        try targets.read(request)
        let session = Session(merchantID: merchant.merchantID, body: request.body, expires: expires,
                              notificationTargets: (targets.overrideURLs, targets.appendURLs), expiry: expiry)
        sessions.withLock { $0[token] = session }
        let object: [String: Any] = ["token": token, "redirect_url": "\(publicURL())/snap/v2/vtweb/\(token)"]
        return HTTPResponse(status: 201, fields: HTTPFields(["Content-Type": "application/json"]),
                            body: .bytes((try? JSONText.encode(object)) ?? []))
    }

    /// `GET /snap/v2/vtweb/{token}`: the order and the ways to pay.
    func page(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let token = request.pathParameters["token"] ?? ""
        let (_, body, _) = try session(token)
        let details = body["transaction_details"] as? [String: Any] ?? [:]
        let order = HTML.escape(details["order_id"] as? String ?? "")
        let amount = ChargeRequest.amount(details["gross_amount"])?.gatewayText ?? "?"
        return HTML.page(title: "Pay order \(order)", body: """
            <h1>Order \(order): IDR \(amount)</h1>
            <p>Choose how to pay. Card payments need a token from <code>GET /v2/token</code>.</p>
            <ul>
            <li>Bank transfer (BCA, BNI, BRI, Permata virtual account)</li>
            <li>Mandiri bill (echannel)</li>
            <li>GoPay or QRIS</li>
            <li>Credit card (3-D Secure)</li>
            </ul>
            <p>The page's scripts post <code>{"payment_type": …}</code> to
            <code>/snap/v2/transactions/\(HTML.escape(token))/charge</code>.</p>
            """)
    }

    /// `POST /snap/v2/transactions/{token}/charge`: the order from the session — its details,
    /// items, customer, custom fields, metadata and notification targets — and the payment
    /// method from the page (which cannot change the order).
    func charge(_ request: HTTPRequest) async throws(GatewayError) -> (ChargeFlow.Result, MerchantAccount) {
        let token = request.pathParameters["token"] ?? ""
        let (merchant, session, kept) = try session(token)
        guard var choice = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw .validation(["the body must be a JSON object with payment_type"])
        }
        for field in ["transaction_details", "item_details", "customer_details", "custom_field1", "custom_field2", "custom_field3", "metadata",
                      "custom_expiry"] {
            choice[field] = session[field]
        }
        var request = try ChargeRequest(json: choice)
        (request.overrideNotificationURLs, request.appendNotificationURLs) = kept.notificationTargets
        if let expiry = kept.expiry { request.customExpiry = expiry }
        let result = try await flow.charge(request, merchant: merchant)
        _ = sessions.withLock { $0.removeValue(forKey: token) }
        return (result, merchant)
    }

    private func session(_ token: String) throws(GatewayError) -> (MerchantAccount, [String: Any], Session) {
        let now = configuration.now()
        guard let session = sessions.withLock({ $0[token] }), session.expires > now,
            let merchant = try merchants.merchant(id: session.merchantID)
        else { throw .snapTokenNotFound }
        return (merchant, (try? JSONSerialization.jsonObject(with: Data(session.body))) as? [String: Any] ?? [:], session)
    }
}
