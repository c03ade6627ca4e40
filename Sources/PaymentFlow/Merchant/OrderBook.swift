import Foundation

/// Where the shop keeps its orders: a SQLite file, so a restarted shop still knows what it sold
/// (and can still verify and apply the webhooks that arrive for old orders), or a private
/// in-memory database when no file is given.
///
/// Each order is one row holding the order's JSON; ``modify(_:_:)`` reads, changes and writes it
/// in one transaction, so a webhook and the checkout answering at the same moment cannot lose
/// each other's change.
final class OrderBook: Sendable {
    private let database: SQLiteDatabase
    private let observer: PaymentObserver?

    /// `path` nil: memory only. `observer` hears of every change of an order's status.
    init(path: String?, observer: PaymentObserver? = nil) throws {
        self.observer = observer
        database = try SQLiteDatabase(path: path ?? ":memory:")
        try database.execute("CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        try database.execute("CREATE TABLE IF NOT EXISTS subscriptions (subscription_id TEXT PRIMARY KEY, product_id TEXT NOT NULL, amount TEXT NOT NULL)")
        try database.execute("CREATE TABLE IF NOT EXISTS wallets (phone_number TEXT PRIMARY KEY, account_id TEXT NOT NULL)")
    }

    /// The GoPay account the shop linked for a customer's phone number (tokenization: the shop
    /// keeps it; the customer's browser never holds the account's token).
    func linkedWallet(phone: String) throws -> String? {
        try database.execute("SELECT account_id FROM wallets WHERE phone_number = ?", [.text(phone)]).first?[0].text
    }

    func setLinkedWallet(phone: String, accountID: String) throws {
        try database.execute("INSERT OR REPLACE INTO wallets (phone_number, account_id) VALUES (?, ?)", [.text(phone), .text(accountID)])
    }

    /// Remembers a subscription the shop made at the gateway: its charges' orders are the
    /// gateway's (`SUBS-<id>-<n>`), and the shop records each when it first hears of it.
    func addSubscription(id: String, productID: String, amount: String) throws {
        try database.execute("INSERT OR REPLACE INTO subscriptions (subscription_id, product_id, amount) VALUES (?, ?, ?)",
                             [.text(id), .text(productID), .text(amount)])
    }

    /// The subscription (product, `gross_amount`) whose charge made order `orderID`, if the shop has it.
    func subscription(ofOrder orderID: String) throws -> (productID: String, amount: String)? {
        guard orderID.hasPrefix("SUBS-"), let dash = orderID.lastIndex(of: "-"), orderID[orderID.index(after: dash)...].allSatisfy(\.isNumber) else {
            return nil
        }
        let id = String(orderID[orderID.index(orderID.startIndex, offsetBy: 5)..<dash])
        return try database.execute("SELECT product_id, amount FROM subscriptions WHERE subscription_id = ?", [.text(id)]).first.map {
            ($0[0].text ?? "", $0[1].text ?? "")
        }
    }

    func order(_ id: String) throws -> MerchantShop.Order? {
        try database.execute("SELECT body FROM orders WHERE order_id = ?", [.text(id)]).first.flatMap { try Self.decode($0[0]) }
    }

    /// How many orders were ever placed (numbers the next one).
    func count() throws -> Int {
        Int(try database.execute("SELECT COUNT(*) FROM orders").first?[0].integer ?? 0)
    }

    /// Reads, changes and writes one order atomically (`nil` in: no such order yet; `nil` out: none stored).
    func modify<R>(_ id: String, _ change: (inout MerchantShop.Order?) throws -> R) throws -> R {
        var statuses: (before: OrderStatus?, after: OrderStatus?) = (nil, nil)
        let result = try database.transaction { db in
            var order = try db.execute("SELECT body FROM orders WHERE order_id = ?", [.text(id)]).first.flatMap { try Self.decode($0[0]) }
            let before = order?.status
            let result = try change(&order)
            statuses = (before, order?.status)
            if let order {
                let body = String(decoding: try JSONEncoder().encode(order), as: UTF8.self)
                try db.execute("INSERT OR REPLACE INTO orders (order_id, body) VALUES (?, ?)", [.text(id), .text(body)])
            }
            return result
        }
        // Told only once the change is committed.
        if let after = statuses.after, after != statuses.before { observer?(.orderStatus(orderID: id, from: statuses.before, to: after)) }
        return result
    }

    private static func decode(_ value: SQLValue) throws -> MerchantShop.Order? {
        guard let text = value.text else { return nil }
        return try JSONDecoder().decode(MerchantShop.Order.self, from: Data(text.utf8))
    }
}
