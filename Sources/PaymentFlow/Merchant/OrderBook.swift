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

    private static func decode(_ value: SQLiteValue) throws -> MerchantShop.Order? {
        guard let text = value.text else { return nil }
        return try JSONDecoder().decode(MerchantShop.Order.self, from: Data(text.utf8))
    }
}
