import Foundation
import HTTPParser
import NetLab

/// The shop's pages: what a person opens in a browser to buy, pay and watch the order.
///
/// | route | what |
/// |---|---|
/// | `GET /` | the catalogue (Pages/shop/index.html): buy with the Snap popup, or pay by card on the shop's own page |
/// | `POST /checkout` | `{product_id, quantity}` or a cart `{items: [{product_id, quantity}]}`: the shop places the order and asks the gateway for a Snap token (`POST /snap/v1/transactions`, the finish URL its order page) → `{order_id, token, redirect_url}` |
/// | `GET /card?product=ID` | a Core API card form (Pages/shop/card.html) using the gateway's card script: tokenise, charge through `POST /orders`, 3-D Secure in a frame |
/// | `GET /order/{id}` | the order page (Pages/shop/order.html): it follows `GET /orders/{id}` until the verified webhook has moved the order |
///
/// The pages load `snap.js` and the card script from the gateway's origin, which their
/// Content-Security-Policy allows by name (scripts and frames), and nothing else from
/// elsewhere. The browser never holds the server key: it asks this shop, which asks the
/// gateway.
struct Storefront: Sendable {
    let shop: MerchantShop

    func install(in router: inout Router) {
        router.get("/") { [self] _ in try page("shop/index.html", [:]) }
        router.get("/card") { [self] request in
            let id = request.queryParameters["product"] ?? ""
            guard let product = shop.catalogue.first(where: { $0.product_id == id }) else { throw HTTPError(status: 404, message: "no such product") }
            return try page("shop/card.html", ["product_id": product.product_id, "product_name": product.name, "price": product.price])
        }
        router.get("/order/{id}") { [self] request in
            let id = request.pathParameters["id"] ?? ""
            guard let order = try shop.orders.order(id) else { throw HTTPError(status: 404, message: "no such order") }
            return try page("shop/order.html", ["order_id": order.order_id, "amount": order.gross_amount])
        }
        router.post("/checkout") { [self] request in try await checkout(request) }
        router.get("/assets/netlab.css") { _ in try PageAssets.asset("common/netlab.css") }
        for script in ["shop.js", "card.js", "order.js"] {
            router.get("/assets/\(script)") { _ in try PageAssets.asset("shop/\(script)") }
        }
    }

    /// A shop page: the gateway's origin and the client key as data for its script; scripts and
    /// frames allowed from the gateway's origin (snap.js, the card script, Snap's page, the OTP page).
    private func page(_ path: String, _ values: [String: String]) throws -> HTTPResponse {
        let gateway = BrowserRequest.origin(of: shop.publicGatewayURL)
        var all = values
        all["gateway"] = gateway
        all["client_key"] = shop.clientKey
        return try PageAssets.page(path, all, policy: PageAssets.policy(["script-src": gateway, "frame-src": gateway, "img-src": gateway]))
    }

    /// One product, or a cart of them (`items`).
    struct Checkout: Codable {
        struct Line: Codable {
            var product_id: String
            var quantity: Int?
        }
        var product_id: String?
        var quantity: Int?
        var items: [Line]?
    }

    /// `POST /checkout`: the order, and its Snap token. A form post from another site is refused
    /// (a page elsewhere cannot place orders in the customer's name).
    func checkout(_ request: HTTPRequest) async throws -> HTTPResponse {
        try BrowserRequest.requireSameSiteJSON(request)
        let body: Checkout = try request.decodeJSON()
        let lines = body.items ?? [Checkout.Line(product_id: body.product_id ?? "", quantity: body.quantity)]
        guard (1...20).contains(lines.count) else { throw HTTPError(status: 400, message: "a cart holds 1 to 20 products") }
        var items: [[String: Any]] = [], total: Int64 = 0, quantities = 0
        for line in lines {
            guard let product = shop.catalogue.first(where: { $0.product_id == line.product_id }), let price = Rupiah(parsing: product.price) else {
                throw HTTPError(status: 404, message: "no such product: \(line.product_id)")
            }
            let quantity = line.quantity ?? 1
            guard (1...100).contains(quantity) else { throw HTTPError(status: 400, message: "quantity must be 1…100") }
            items.append(["id": product.product_id, "name": product.name, "price": price.amount, "quantity": quantity])
            total += price.amount * Int64(quantity)
            quantities += quantity
        }
        let number = shop.sequence.withLock { n -> Int in n += 1; return n }
        let orderID = "ORDER-\(number)-\(UUID().uuidString.prefix(8).lowercased())"
        let gross = Rupiah(total)
        let order = MerchantShop.Order(order_id: orderID, product_id: lines.count == 1 ? lines[0].product_id : "cart", quantity: quantities,
                                       gross_amount: gross.gatewayText, payment_type: "snap", status: .awaitingPayment)
        try shop.orders.modify(orderID) { $0 = order }
        let (status, answer) = try await shop.gateway(.post, "/snap/v1/transactions", [
            "transaction_details": ["order_id": orderID, "gross_amount": gross.amount],
            "item_details": items,
            "callbacks": ["finish": "\(shop.publicURL)/order/\(orderID)"],
            "credit_card": ["secure": true],
        ])
        guard status < 300, let token = answer["token"] as? String, let redirect = answer["redirect_url"] as? String else {
            try shop.orders.modify(orderID) { $0?.status = .failed }
            throw HTTPError(status: 502, message: "the gateway refused the payment page: \((answer["error_messages"] as? [String])?.joined(separator: "; ") ?? "\(status)")")
        }
        return try .json(["order_id": orderID, "token": token, "redirect_url": redirect], status: 201)
    }
}
