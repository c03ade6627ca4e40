import Foundation
import HTTPParser
import NetLab

/// The instructor's view of a class gateway: every merchant it serves (one per student), each
/// one's latest transactions, and how its webhooks fare — delivered, waiting, given up, and the
/// last answer its endpoint gave.
///
/// `GET /instructor` is the page (plain HTML and a script that fills it with `textContent`, so
/// nothing a student put in an order id can run in the instructor's browser); `GET
/// /v1/instructor/merchants` is its JSON. Both ask for HTTP Basic with the instructor key as the
/// password (any user name), compared in constant time; without a key configured there is no
/// view at all (404). Server keys never appear.
struct InstructorView: Sendable {
    let store: any GatewayStore
    /// nil: no instructor view.
    let key: String?

    /// How many transactions and webhooks of each merchant the view reads.
    static let transactionsShown = 20
    static let webhooksRead = 200

    struct Overview: Codable, Equatable {
        var merchants: [Merchant]
    }

    struct Merchant: Codable, Equatable {
        var merchantId: String
        var notificationUrl: String?
        var allowsPrivateWebhooks: Bool
        var transactions: [Transaction]
        var webhooks: WebhookHealth
    }

    struct Transaction: Codable, Equatable {
        var orderId: String
        var paymentType: String
        var transactionStatus: String
        var grossAmount: String
        var transactionTime: String
    }

    /// Of the merchant's latest ``webhooksRead`` webhooks.
    struct WebhookHealth: Codable, Equatable {
        var delivered: Int
        var waiting: Int
        var givenUp: Int
        /// The newest attempt's result ("200", "503", "no answer: connection refused").
        var lastResult: String?
    }

    /// Nil when the request may see the view; otherwise the answer to give.
    func refusal(_ request: HTTPRequest) -> HTTPResponse? {
        guard let key else { return HTTPResponse(status: 404, body: .bytes(Array("no instructor view on this gateway\n".utf8))) }
        if let credentials = MerchantDirectory.basicCredentials(request), ConstantTime.equal(credentials.password, key) { return nil }
        var fields = HTTPFields(["Content-Type": "text/plain; charset=utf-8"])
        try? fields.append(name: "WWW-Authenticate", value: #"Basic realm="NetLab instructor", charset="UTF-8""#)
        return HTTPResponse(status: 401, fields: fields, body: .bytes(Array("the instructor key is the password\n".utf8)))
    }

    func page(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = refusal(request) { return refusal }
        return try PageAssets.page("gateway/instructor.html", policy: PageAssets.policy(frameAncestors: "'none'"))
    }

    func merchants(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = refusal(request) { return refusal }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return HTTPResponse(status: 200, fields: HTTPFields(["Content-Type": "application/json", "Cache-Control": "no-store"]),
                            body: .bytes(Array(try encoder.encode(overview()))))
    }

    func overview() throws -> Overview {
        try Overview(merchants: store.merchants().sorted { $0.merchantID < $1.merchantID }.map { merchant in
            let webhooks = try store.notifications(merchantID: merchant.merchantID, orderID: nil, newest: Self.webhooksRead)
            return Merchant(
                merchantId: merchant.merchantID, notificationUrl: merchant.notificationURL, allowsPrivateWebhooks: merchant.allowsPrivateWebhooks,
                transactions: try store.recentTransactions(merchantID: merchant.merchantID, limit: Self.transactionsShown).map {
                    Transaction(orderId: $0.orderID, paymentType: $0.paymentType.rawValue, transactionStatus: $0.state.status.rawValue,
                                grossAmount: $0.state.grossAmount.gatewayText, transactionTime: $0.transactionTime)
                },
                webhooks: WebhookHealth(
                    delivered: webhooks.filter { $0.deliveredAt != nil }.count,
                    waiting: webhooks.filter { $0.deliveredAt == nil && $0.gaveUpAt == nil }.count,
                    givenUp: webhooks.filter { $0.gaveUpAt != nil }.count,
                    lastResult: webhooks.last { $0.lastResult != nil }?.lastResult))
        })
    }
}
