import Foundation
import HTTPParser
import NetLab
import TCPSocket

/// A small shop: the merchant's server. It sells from a catalogue, charges through the gateway
/// with its server key (the key never leaves this server), shows payment instructions, and
/// learns the outcome from webhooks, which it trusts only after checking them.
///
/// Routes (JSON): `GET /products`, `POST /orders` `{product_id, quantity, payment}`,
/// `GET /orders/{order_id}[?refresh=true]`, and the webhook `POST /notifications`.
///
/// The webhook handler is the part real merchants get wrong, so it does all four checks the
/// research notes list: (1) the `signature_key` is verified in constant time — a forgery is
/// refused with 401; (2) the transaction is confirmed with `GET /v2/{id}/status`, which is the
/// truth (a replayed or out-of-order notification cannot move the order backwards); (3) the
/// order is updated idempotently (a duplicate changes nothing); (4) the answer is a quick 200.
public final class MerchantShop: Sendable {
    public struct Product: Codable, Sendable, Equatable {
        public var product_id: String
        public var name: String
        public var price: String
    }

    /// An order as the shop keeps it; `status` follows the gateway's transaction.
    public struct Order: Codable, Sendable, Equatable {
        public var order_id: String
        public var product_id: String
        public var quantity: Int
        public var gross_amount: String
        public var payment_type: String
        public var status: OrderStatus
        public var transaction_id: String?
        public var transaction_status: String?
        public var va_number: String?
        public var bill_key: String?
        public var qr_string: String?
        /// A convenience store's payment code (`cstore`) and the store.
        public var payment_code: String?
        public var store: String?
        /// The e-wallet app's deeplink (GoPay, ShopeePay).
        public var deeplink_url: String?
        public var redirect_url: String?
        public var message: String?
    }

    /// What happened to webhooks, for the demo and the tests.
    public struct WebhookCounts: Sendable, Equatable {
        public var received = 0
        public var rejected = 0
        public var applied = 0
        public var duplicates = 0
    }

    public let merchantID: String
    let serverKey: String
    let gatewayURL: String
    /// The gateway as browsers reach it (the storefront's scripts and frames); `gatewayURL`
    /// unless the two differ (a class gateway: the shop calls it on loopback, browsers by name).
    let publicGatewayURL: String
    let client: HTTPClient
    public let catalogue: [Product]
    let orders: OrderBook
    /// The webhook endpoint's logic (lab 5's seam).
    let webhookHandler = ReferenceWebhookHandler()
    /// The transaction and `transaction_status` the gateway last confirmed per order, until a
    /// handler applies it.
    let confirmed = Locked<[String: (transactionID: String, status: String)]>([:])
    private let observer: PaymentObserver?
    private let counts = Locked(WebhookCounts())
    let sequence: Locked<Int>
    let clientKey: String
    let publicURL: String
    /// When false the webhook answers 503 (a merchant that is "down", for the retry scenario).
    private let acceptingWebhooks = Locked(true)

    public static let defaultCatalogue = [
        Product(product_id: "kopi", name: "Kopi Toraja 250 g", price: "85000"),
        Product(product_id: "batik", name: "Batik tulis, Solo", price: "450000"),
        Product(product_id: "laptop", name: "Laptop for the lab", price: "75000000"),
    ]

    /// `ordersPath`: a SQLite file for the orders (kept across restarts); nil keeps them in memory.
    /// `observer` hears of order status changes and of each webhook's checks.
    /// `clientKey` and `publicURL` (the shop's own address as browsers reach it) are for the
    /// storefront's pages (``Storefront``): the key the browser's scripts use, the address the
    /// payment page returns to.
    public init(merchantID: String, serverKey: String, gatewayURL: String, client: HTTPClient,
                catalogue: [Product] = MerchantShop.defaultCatalogue, ordersPath: String? = nil, observer: PaymentObserver? = nil,
                clientKey: String = "", publicURL: String = "", publicGatewayURL: String? = nil) throws {
        self.publicGatewayURL = publicGatewayURL ?? gatewayURL
        self.clientKey = clientKey
        self.publicURL = publicURL
        self.observer = observer
        self.merchantID = merchantID
        self.serverKey = serverKey
        self.gatewayURL = gatewayURL
        self.client = client
        self.catalogue = catalogue
        self.orders = try OrderBook(path: ordersPath, observer: observer)
        self.sequence = Locked(try orders.count())
    }

    public var webhookCounts: WebhookCounts { counts.withLock { $0 } }
    public func order(_ id: String) -> Order? { try? orders.order(id) }
    /// Makes the webhook answer 503 (false) or work again (true).
    public func setAcceptingWebhooks(_ accepting: Bool) { acceptingWebhooks.withLock { $0 = accepting } }

    public var router: Router {
        var router = Router()
        router.get("/products") { [self] _ in try .json(catalogue) }
        router.post("/orders") { [self] request in try await placeOrder(request) }
        router.get("/orders/{id}") { [self] request in
            let id = request.pathParameters["id"] ?? ""
            guard var order = try orders.order(id) else { throw HTTPError(status: 404, message: "no such order") }
            // `?refresh=true`: the customer is back from the payment page (3-D Secure's "finish"
            // redirect); ask the gateway now instead of waiting for the webhook.
            if request.queryParameters["refresh"] == "true", let transactionID = order.transaction_id {
                let (status, truth) = try await gateway(.get, "/v2/\(transactionID)/status", nil)
                if status < 300 || status == 407 {
                    order = try orders.modify(id) { current -> Order in
                        guard current != nil else { return order }
                        Self.apply(truth, to: &current!)
                        return current!
                    }
                }
            }
            return try .json(order)
        }
        router.post("/subscriptions") { [self] request in try await subscribe(request) }
        router.post("/wallets") { [self] request in try await linkWallet(request) }
        router.post("/notifications") { [self] request in try await webhook(request) }
        Storefront(shop: self).install(in: &router)
        return router
    }

    // MARK: Checkout

    struct PlaceOrder: Codable {
        var product_id: String
        var quantity: Int?
        var payment: [String: String]
        /// Who buys (`first_name`, `email`, `phone`): sent as `customer_details` (pay-later
        /// providers require it).
        var customer: [String: String]?
    }

    func placeOrder(_ request: HTTPRequest) async throws -> HTTPResponse {
        // The shop's own pages (and servers) only: a page elsewhere cannot buy in the customer's name.
        try BrowserRequest.requireSameSiteJSON(request)
        let body: PlaceOrder = try request.decodeJSON()
        guard let product = catalogue.first(where: { $0.product_id == body.product_id }), let price = Rupiah(parsing: product.price) else {
            throw HTTPError(status: 404, message: "no such product")
        }
        let quantity = body.quantity ?? 1
        guard (1...100).contains(quantity) else { throw HTTPError(status: 400, message: "quantity must be 1…100") }
        let type = body.payment["type"] ?? ""
        let number = sequence.withLock { n -> Int in n += 1; return n }
        let orderID = "ORDER-\(number)-\(UUID().uuidString.prefix(8).lowercased())"
        let gross = Rupiah(price.amount * Int64(quantity))
        var charge: [String: Any] = [
            "payment_type": type,
            "transaction_details": ["order_id": orderID, "gross_amount": gross.amount],
            "item_details": [["id": product.product_id, "name": product.name, "price": price.amount, "quantity": quantity]],
        ]
        if let customer = body.customer { charge["customer_details"] = customer }
        switch type {
        case "credit_card": charge["credit_card"] = ["token_id": body.payment["token_id"] ?? "", "authentication": true]
        case "bank_transfer": charge["bank_transfer"] = ["bank": body.payment["bank"] ?? "bca"]
        case "echannel": charge["echannel"] = ["bill_info1": "Payment for", "bill_info2": product.name]
        case "qris": charge["qris"] = ["acquirer": body.payment["acquirer"] ?? "gopay"]
        case "cstore": charge["cstore"] = ["store": body.payment["store"] ?? "indomaret", "message": "Pembayaran \(product.name)"]
        case "gopay" where body.payment["wallet_phone"] != nil:
            // The customer's GoPay, linked earlier (tokenization): the shop charges it with the
            // account's token, which it asks the gateway for and never hands to the browser.
            charge["gopay"] = try await linkedWalletCharge(phone: body.payment["wallet_phone"] ?? "")
        case "gopay", "shopeepay", "akulaku", "kredivo": break
        default:
            throw HTTPError(status: 400, message: "payment.type must be credit_card, bank_transfer, echannel, gopay, shopeepay, qris, cstore, akulaku or kredivo")
        }
        var order = Order(order_id: orderID, product_id: product.product_id, quantity: quantity, gross_amount: gross.gatewayText,
                          payment_type: type, status: .awaitingPayment)
        try orders.modify(orderID) { $0 = order }
        let (status, answer) = try await gateway(.post, "/v2/charge", charge)
        order.message = answer["status_message"] as? String
        if status >= 300 {
            order.status = .failed
        } else {
            order.transaction_id = answer["transaction_id"] as? String
            order.redirect_url = answer["redirect_url"] as? String
            order.va_number = (answer["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String ?? answer["permata_va_number"] as? String
            order.bill_key = answer["bill_key"] as? String
            order.qr_string = answer["qr_string"] as? String
            order.payment_code = answer["payment_code"] as? String
            order.store = answer["store"] as? String
            order.deeplink_url = (answer["actions"] as? [[String: Any]])?.first { $0["name"] as? String == "deeplink-redirect" }?["url"] as? String
            Self.apply(answer, to: &order)
        }
        let final = order
        // A webhook may have landed while we waited for the charge's answer: keep the later news.
        let stored = try orders.modify(orderID) { current -> Order in
            var merged = final
            if let current, Self.rank(current.transaction_status) > Self.rank(final.transaction_status) {
                merged.status = current.status
                merged.transaction_status = current.transaction_status
            }
            current = merged
            return merged
        }
        return try .json(stored, status: status >= 300 ? 402 : 201)
    }

    // MARK: Linked GoPay wallets

    /// `POST /wallets` `{"phone_number": "81234567891"}`: asks the gateway to link the
    /// customer's GoPay (`POST /v2/pay/account`), keeps the account, and answers the page where
    /// the customer approves the link.
    func linkWallet(_ request: HTTPRequest) async throws -> HTTPResponse {
        // The shop's own pages (and servers) only: a page elsewhere cannot buy in the customer's name.
        try BrowserRequest.requireSameSiteJSON(request)
        struct Link: Codable { var phone_number: String }
        let body: Link = try request.decodeJSON()
        let (status, answer) = try await gateway(.post, "/v2/pay/account", [
            "payment_type": "gopay", "gopay_partner": ["phone_number": body.phone_number, "country_code": "62"],
        ])
        guard status < 300, answer["status_code"] as? String == "201", let account = answer["account_id"] as? String,
            let page = (answer["actions"] as? [[String: Any]])?.first(where: { $0["name"] as? String == "activation-link-url" })?["url"] as? String
        else {
            throw HTTPError(status: 402, message: "GoPay refused the link: \(answer["channel_response_message"] ?? answer["status_message"] ?? status)")
        }
        try orders.setLinkedWallet(phone: body.phone_number, accountID: account)
        return try .json(["account_id": account, "activation_url": page], status: 201)
    }

    /// The `gopay` object of a charge from the customer's linked wallet: the account and its
    /// current payment option token.
    func linkedWalletCharge(phone: String) async throws -> [String: Any] {
        guard let account = try orders.linkedWallet(phone: phone) else { throw HTTPError(status: 404, message: "no GoPay linked for this phone number") }
        let (_, answer) = try await gateway(.get, "/v2/pay/account/\(account)", nil)
        let options = (answer["metadata"] as? [String: Any])?["payment_options"] as? [[String: Any]]
        guard answer["account_status"] as? String == "ENABLED", let token = options?.first(where: { $0["name"] as? String == "GOPAY_WALLET" })?["token"] as? String else {
            throw HTTPError(status: 409, message: "the linked GoPay account is \(answer["account_status"] ?? "unknown"): approve the link first")
        }
        return ["account_id": account, "payment_option_token": token]
    }

    // MARK: Subscriptions

    struct Subscribe: Codable {
        var product_id: String
        /// A `saved_token_id` (`GET /v2/card/register`).
        var token: String
        /// `day`, `week` or `month` (default month); how many charges (default: until disabled).
        var interval_unit: String?
        var max_interval: Int?
    }

    /// `POST /subscriptions`: subscribes the customer's saved card to a product at the gateway
    /// (`POST /v1/subscriptions`). The gateway's timers make each charge; the shop records the
    /// charge's order when its first webhook arrives.
    func subscribe(_ request: HTTPRequest) async throws -> HTTPResponse {
        // The shop's own pages (and servers) only: a page elsewhere cannot buy in the customer's name.
        try BrowserRequest.requireSameSiteJSON(request)
        let body: Subscribe = try request.decodeJSON()
        guard let product = catalogue.first(where: { $0.product_id == body.product_id }) else { throw HTTPError(status: 404, message: "no such product") }
        var schedule: [String: Any] = ["interval": 1, "interval_unit": body.interval_unit ?? "month"]
        if let max = body.max_interval { schedule["max_interval"] = max }
        let (status, answer) = try await gateway(.post, "/v1/subscriptions", [
            "name": "SHOP-\(product.product_id)", "amount": product.price, "currency": "IDR", "payment_type": "credit_card",
            "token": body.token, "schedule": schedule,
        ])
        guard status < 300, let id = answer["id"] as? String else {
            throw HTTPError(status: 402, message: "the gateway refused the subscription: \(answer["status_message"] ?? answer)")
        }
        try orders.addSubscription(id: id, productID: product.product_id, amount: Rupiah(parsing: product.price)?.gatewayText ?? product.price)
        return try .json(["subscription_id": id, "next_charge": ((answer["schedule"] as? [String: Any])?["next_execution_at"] as? String) ?? ""], status: 201)
    }

    // MARK: Webhook

    /// `POST /notifications`: the shop's webhook endpoint is ``ReferenceWebhookHandler`` — the
    /// same code lab 5's checks hold students' handlers to — over this shop's orders.
    func webhook(_ request: HTTPRequest) async throws -> HTTPResponse {
        counts.withLock { $0.received += 1 }
        guard acceptingWebhooks.withLock({ $0 }) else { throw HTTPError(status: 503, message: "the shop is down for maintenance") }
        let check = await webhookHandler.check(request.body, shop: Desk(shop: self))
        switch check.outcome {
        case .applied: counts.withLock { $0.applied += 1 }
        case .duplicate: counts.withLock { $0.duplicates += 1 }
        case .rejected: counts.withLock { $0.rejected += 1 }
        }
        if let orderID = check.orderID {
            let outcome: String
            switch check.outcome {
            case .applied: outcome = "applied"
            case .duplicate: outcome = "duplicate: nothing changed"
            case .rejected(let why): outcome = "rejected: \(why)"
            }
            observer?(.webhookChecked(orderID: orderID, notifiedStatus: check.notifiedStatus, signatureValid: check.signatureValid,
                                      confirmedStatus: check.confirmedStatus, outcome: outcome))
        }
        guard check.httpStatus < 300 else { throw HTTPError(status: check.httpStatus, message: "\(check.outcome)") }
        return .text("OK")
    }

    /// The shop's orders as a webhook handler sees them. The `transaction_status` the gateway
    /// last confirmed for an order is kept with its status when the handler sets it.
    struct Desk: WebhookShop {
        let shop: MerchantShop
        var serverKey: String { shop.serverKey }

        func order(_ id: String) -> WebhookOrder? {
            var found = (try? shop.orders.order(id)).flatMap { $0 }
            // A subscription's charge: an order the gateway made for the shop, recorded now.
            if found == nil, let subscription = try? shop.orders.subscription(ofOrder: id) {
                found = try? shop.orders.modify(id) { order -> Order in
                    if order == nil {
                        order = Order(order_id: id, product_id: subscription.productID, quantity: 1, gross_amount: subscription.amount,
                                      payment_type: "credit_card", status: .awaitingPayment)
                    }
                    return order!
                }
            }
            return found.map { WebhookOrder(orderID: $0.order_id, grossAmount: $0.gross_amount, status: $0.status) }
        }

        func setStatus(_ status: OrderStatus, of id: String) -> Bool {
            let confirmed = shop.confirmed.withLock { $0.removeValue(forKey: id) }
            return (try? shop.orders.modify(id) { order -> Bool in
                guard let before = order else { return false }
                // A webhook about another transaction of this order id (an earlier, failed one)
                // says nothing about the order's own.
                if let confirmed, let current = before.transaction_id, confirmed.transactionID != current { return false }
                // Never backwards: a late answer (confirmed before a newer one was applied)
                // cannot move a paid order back to awaiting payment.
                guard status.stage >= before.status.stage else { return false }
                order!.status = status
                if let confirmed, Self.rank(confirmed.status) >= Self.rank(before.transaction_status) { order!.transaction_status = confirmed.status }
                return order != before
            }) ?? false
        }

        func gatewayStatus(_ transactionID: String) async throws -> (httpStatus: Int, fields: [String: String]) {
            let (status, truth) = try await shop.gateway(.get, "/v2/\(transactionID)/status", nil)
            let fields = truth.compactMapValues { $0 as? String }
            if let order = fields["order_id"], let transactionStatus = fields["transaction_status"] {
                shop.confirmed.withLock { $0[order] = (transactionID, transactionStatus) }
            }
            return (status, fields)
        }

        static func rank(_ status: String?) -> Int { MerchantShop.rank(status) }
    }

    /// The order's status from a gateway answer (charge or status).
    static func apply(_ answer: [String: Any], to order: inout Order) {
        guard let status = answer["transaction_status"] as? String else { return }
        order.transaction_status = status
        order.status = OrderStatus(transactionStatus: status, fraudStatus: answer["fraud_status"] as? String)
    }

    /// How far along a transaction is, to keep the later of two pieces of news.
    static func rank(_ status: String?) -> Int {
        switch status {
        case nil: 0
        case "pending": 1
        case "capture": 2
        case "settlement", "deny", "cancel", "expire", "failure": 3
        case "partial_refund": 4
        default: 5
        }
    }

    /// Calls the gateway as this merchant's server (Basic auth with the server key, JSON): what
    /// the shop's back office does for approve, deny, cancel and refund. Returns the HTTP status
    /// and the JSON answer.
    public func gateway(_ method: HTTPMethod, _ path: String, _ json: [String: Any]?, fields: [(String, String)] = []) async throws
        -> (Int, [String: Any])
    {
        var request = HTTPClientRequest(method: method, url: try HTTPURL(gatewayURL + path))
        for (name, value) in fields { try request.fields.append(name: name, value: value) }
        if let json { request.body = try JSONText.encode(json) }
        try request.fields.append(name: "Content-Type", value: "application/json")
        try request.fields.append(name: "Accept", value: "application/json")
        try request.fields.append(name: "Authorization", value: "Basic " + Data((serverKey + ":").utf8).base64EncodedString())
        let response = try await client.execute(request)
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        return (response.status, object)
    }
}
