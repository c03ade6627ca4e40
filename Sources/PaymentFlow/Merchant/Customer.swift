import Foundation
import HTTPParser
import NetLab

/// The buyer's side of a checkout: browse the shop, order, pay — by card (tokenised at the
/// gateway with the merchant's client key, then 3-D Secure with the OTP) or at the bank (a
/// virtual account, a Mandiri bill, or a QR/e-wallet payment).
///
/// The card number goes to the gateway only (`GET /v2/token`), never to the shop: the shop sees
/// a token. That is why Midtrans' client key is public and the server key is not.
public struct Customer: Sendable {
    public let shopURL: String
    public let gatewayURL: String
    public let bankURL: String
    public let clientKey: String
    let client: HTTPClient

    public init(shopURL: String, gatewayURL: String, bankURL: String, clientKey: String, client: HTTPClient) {
        self.shopURL = shopURL
        self.gatewayURL = gatewayURL
        self.bankURL = bankURL
        self.clientKey = clientKey
        self.client = client
    }

    /// A card as the customer types it.
    public struct Card: Sendable {
        public var number: String
        public var cvv = SandboxCards.cvv
        public var expiryMonth = "12"
        public var expiryYear = String(Calendar(identifier: .gregorian).component(.year, from: Date()) + 2)
        public init(number: String) { self.number = number }
    }

    /// Loads a page or script as the customer's browser would (`GET url`); returns its size.
    public func load(_ url: String) async throws -> Int {
        let response = try await client.get(url)
        guard response.status == 200 else { throw CheckoutError.refused(step: "load \(url)", status: response.status, message: "") }
        return response.body.count
    }

    public func products() async throws -> [MerchantShop.Product] {
        try await client.get(shopURL + "/products").decodeJSON()
    }

    /// Card data → token, at the gateway (never at the shop).
    public func tokenize(_ card: Card) async throws -> String {
        func q(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }
        let url = "\(gatewayURL)/v2/token?client_key=\(q(clientKey))&card_number=\(q(card.number))&card_cvv=\(q(card.cvv))"
            + "&card_exp_month=\(q(card.expiryMonth))&card_exp_year=\(q(card.expiryYear))"
        let response = try await client.get(url)
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        guard response.status == 200, let token = object["token_id"] as? String else {
            throw CheckoutError.refused(step: "tokenize", status: response.status, message: object["status_message"] as? String ?? "")
        }
        return token
    }

    /// Saves the card at the gateway (`GET /v2/card/register` with the client key, as the
    /// payment page's script does) and returns its `saved_token_id`.
    public func registerCard(_ card: Card) async throws -> String {
        func q(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }
        let url = "\(gatewayURL)/v2/card/register?client_key=\(q(clientKey))&card_number=\(q(card.number))"
            + "&card_exp_month=\(q(card.expiryMonth))&card_exp_year=\(q(card.expiryYear))"
        let response = try await client.get(url)
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        guard response.status == 200, let token = object["saved_token_id"] as? String else {
            throw CheckoutError.refused(step: "register card", status: response.status, message: object["status_message"] as? String ?? "")
        }
        return token
    }

    /// Opens a page of the gateway's (GoPay's link approval, its payment verification) and
    /// submits its form with the PIN, as the customer would.
    public func approve(_ page: String, pin: String) async throws {
        let shown = try await client.get(page)
        guard shown.status == 200 else { throw CheckoutError.refused(step: "open \(page)", status: shown.status, message: "") }
        let url = try HTTPURL(page)
        let path = url.target.split(separator: "?").first.map(String.init) ?? url.target
        var request = HTTPClientRequest(method: .post, url: try HTTPURL("\(url.scheme.rawValue)://\(url.hostField)\(path)"))
        request.body = Array("pin=\(pin)".utf8)
        try request.fields.append(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let response = try await client.execute(request)
        guard response.status < 400 else {
            throw CheckoutError.refused(step: "submit \(path)", status: response.status, message: String(decoding: response.body, as: UTF8.self))
        }
    }

    /// Asks the shop to link the customer's GoPay (`POST /wallets`); returns the page where the
    /// customer approves it.
    public func linkWallet(phone: String) async throws -> String {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(shopURL + "/wallets"))
        request.body = Array(try JSONSerialization.data(withJSONObject: ["phone_number": phone]))
        try request.fields.append(name: "Content-Type", value: "application/json")
        let response = try await client.execute(request)
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        guard response.status == 201, let page = object["activation_url"] as? String else {
            throw CheckoutError.refused(step: "link wallet", status: response.status, message: String(decoding: response.body, as: UTF8.self))
        }
        return page
    }

    /// Subscribes to a product with a saved card at the shop (`POST /subscriptions`); returns the subscription id.
    public func subscribe(_ productID: String, savedToken: String, intervalUnit: String = "month", maxInterval: Int? = nil) async throws -> String {
        var body: [String: Any] = ["product_id": productID, "token": savedToken, "interval_unit": intervalUnit]
        if let maxInterval { body["max_interval"] = maxInterval }
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(shopURL + "/subscriptions"))
        request.body = Array(try JSONSerialization.data(withJSONObject: body))
        try request.fields.append(name: "Content-Type", value: "application/json")
        let response = try await client.execute(request)
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        guard response.status == 201, let id = object["subscription_id"] as? String else {
            throw CheckoutError.refused(step: "subscribe", status: response.status, message: String(decoding: response.body, as: UTF8.self))
        }
        return id
    }

    /// Places an order; `payment` is `["type": "bank_transfer", "bank": "bca"]` and the like.
    public func order(_ productID: String, quantity: Int = 1, payment: [String: String]) async throws -> MerchantShop.Order {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(shopURL + "/orders"))
        let customer = ["first_name": "Budi", "email": "budi@example.com", "phone": "+6281234567890"]
        request.body = Array(try JSONSerialization.data(withJSONObject: ["product_id": productID, "quantity": quantity, "payment": payment,
                                                                         "customer": customer]))
        try request.fields.append(name: "Content-Type", value: "application/json")
        let response = try await client.execute(request)
        guard response.status == 201 || response.status == 402 else {
            throw CheckoutError.refused(step: "order", status: response.status, message: String(decoding: response.body, as: UTF8.self))
        }
        return try response.decodeJSON()
    }

    /// Tokenise, order, and answer 3-D Secure if asked: the whole card checkout.
    public func payByCard(_ productID: String, card: Card, otp: String = SandboxCards.otp, quantity: Int = 1) async throws -> MerchantShop.Order {
        let token = try await tokenize(card)
        var order = try await self.order(productID, quantity: quantity, payment: ["type": "credit_card", "token_id": token])
        if let redirect = order.redirect_url {
            try await authenticate(redirect: redirect, otp: otp)
            order = try await self.order(status: order.order_id, refresh: true)
        }
        return order
    }

    /// Opens the 3-D Secure page and submits the OTP form, as a browser would.
    public func authenticate(redirect: String, otp: String) async throws {
        let page = try await client.get(redirect)
        guard page.status == 200 else { throw CheckoutError.refused(step: "3ds page", status: page.status, message: "") }
        let url = try HTTPURL(redirect)
        let path = url.target.split(separator: "?").first.map(String.init) ?? url.target
        var request = HTTPClientRequest(method: .post, url: try HTTPURL("\(url.scheme.rawValue)://\(url.hostField)\(path)"))
        request.body = Array("client_key=\(clientKey)&otp=\(otp)".utf8)
        try request.fields.append(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let response = try await client.execute(request)
        guard response.status < 300 else { throw CheckoutError.refused(step: "3ds otp", status: response.status, message: String(decoding: response.body, as: UTF8.self)) }
    }

    /// Pays a virtual account, bill key or QR/e-wallet number at the bank.
    public func payAtBank(_ number: String) async throws {
        let response = try await client.post("\(bankURL)/va/\(number)/pay", body: [])
        guard response.status == 200 else {
            throw CheckoutError.refused(step: "pay at bank", status: response.status, message: String(decoding: response.body, as: UTF8.self))
        }
    }

    /// The order as the shop knows it; `refresh` makes the shop ask the gateway first.
    public func order(status orderID: String, refresh: Bool = false) async throws -> MerchantShop.Order {
        try await client.get("\(shopURL)/orders/\(orderID)" + (refresh ? "?refresh=true" : "")).decodeJSON()
    }

    public enum CheckoutError: Error, CustomStringConvertible {
        case refused(step: String, status: Int, message: String)
        public var description: String {
            switch self {
            case .refused(let step, let status, let message): "\(step) refused with \(status): \(message)"
            }
        }
    }
}
