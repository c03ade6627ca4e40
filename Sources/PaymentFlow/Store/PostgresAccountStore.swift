#if NETLAB_POSTGRES
import Foundation

/// An ``AccountStore`` on PostgreSQL, shared by every gateway instance: the same tables as
/// ``SQLiteAccountStore``; each update reads its row `FOR UPDATE` (instances take turns on
/// one record) and writes it back in the same transaction.
public final class PostgresAccountStore: AccountStore {
    public let database: PostgresDatabase

    public init(database: PostgresDatabase) throws {
        self.database = database
        try SchemaMigration.apply(Self.migrations, component: "accounts", to: database)
    }

    /// The schema's versions (see ``SchemaMigration``).
    static let migrations = [SchemaMigration(1, "saved cards, linked accounts, subscriptions and payment links", [
        """
        CREATE TABLE saved_cards (
            saved_token_id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            masked_card TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            sealed BYTEA NOT NULL,
            active INTEGER NOT NULL DEFAULT 1)
        """,
        "CREATE TABLE pay_accounts (account_id TEXT PRIMARY KEY, body TEXT NOT NULL)",
        "CREATE TABLE subscriptions (id TEXT PRIMARY KEY, active INTEGER NOT NULL, next_execution_at BIGINT NOT NULL, body TEXT NOT NULL)",
        "CREATE INDEX subscriptions_due ON subscriptions (next_execution_at) WHERE active = 1",
        """
        CREATE TABLE payment_links (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            order_id TEXT NOT NULL,
            body TEXT NOT NULL,
            UNIQUE (merchant_id, order_id))
        """,
    ])]

    // MARK: Saved cards

    public func saveCard(_ card: SavedCard) throws {
        try database.execute(
            "INSERT INTO saved_cards (saved_token_id, merchant_id, masked_card, expires_at, sealed, active) VALUES ($1, $2, $3, $4, $5, $6)",
            [.text(card.savedTokenID), .text(card.merchantID), .text(card.maskedCard), .text(card.expiresAt), .blob(card.sealed),
             .integer(card.active ? 1 : 0)])
    }

    public func activateSavedCard(token: String) throws -> Bool {
        try database.read { db in
            try db.execute("UPDATE saved_cards SET active = 1 WHERE saved_token_id = $1", [.text(token)])
            return db.changes > 0
        }
    }

    public func savedCard(token: String) throws -> SavedCard? {
        try database.execute("SELECT saved_token_id, merchant_id, masked_card, expires_at, sealed, active FROM saved_cards WHERE saved_token_id = $1",
                             [.text(token)]).first.map { row in
            SavedCard(savedTokenID: row[0].text ?? "", merchantID: row[1].text ?? "", maskedCard: row[2].text ?? "",
                      expiresAt: row[3].text ?? "", sealed: row[4].bytes ?? [], active: row[5].integer == 1)
        }
    }

    // MARK: Linked accounts

    public func insertPayAccount(_ account: PayAccount) throws {
        try database.execute("INSERT INTO pay_accounts (account_id, body) VALUES ($1, $2)", [.text(account.accountID), .text(try AccountJSON.encode(account))])
    }

    public func payAccount(id: String) throws -> PayAccount? {
        try database.execute("SELECT body FROM pay_accounts WHERE account_id = $1", [.text(id)]).first.map { try AccountJSON.decode($0[0]) }
    }

    public func updatePayAccount<R>(id: String, _ change: (inout PayAccount) throws -> R) throws -> R? {
        try database.transaction { db in
            guard let row = try db.execute("SELECT body FROM pay_accounts WHERE account_id = $1 FOR UPDATE", [.text(id)]).first else { return nil }
            var account: PayAccount = try AccountJSON.decode(row[0])
            let result = try change(&account)
            try db.execute("UPDATE pay_accounts SET body = $1 WHERE account_id = $2", [.text(try AccountJSON.encode(account)), .text(id)])
            return result
        }
    }

    // MARK: Subscriptions

    public func insertSubscription(_ subscription: Subscription) throws {
        try database.execute("INSERT INTO subscriptions (id, active, next_execution_at, body) VALUES ($1, $2, $3, $4)", try AccountJSON.row(subscription))
    }

    public func subscription(id: String) throws -> Subscription? {
        try database.execute("SELECT body FROM subscriptions WHERE id = $1", [.text(id)]).first.map { try AccountJSON.decode($0[0]) }
    }

    public func updateSubscription<R>(id: String, _ change: (inout Subscription) throws -> R) throws -> R? {
        try database.transaction { db in
            guard let row = try db.execute("SELECT body FROM subscriptions WHERE id = $1 FOR UPDATE", [.text(id)]).first else { return nil }
            var subscription: Subscription = try AccountJSON.decode(row[0])
            let result = try change(&subscription)
            let values = try AccountJSON.row(subscription)
            try db.execute("UPDATE subscriptions SET active = $1, next_execution_at = $2, body = $3 WHERE id = $4", Array(values.dropFirst()) + [values[0]])
            return result
        }
    }

    public func subscriptionsDue(now: Int64) throws -> [Subscription] {
        try database.execute("SELECT body FROM subscriptions WHERE active = 1 AND next_execution_at <= $1 ORDER BY next_execution_at",
                             [.integer(now)]).map { try AccountJSON.decode($0[0]) }
    }

    // MARK: Payment links

    public func insertPaymentLink(_ link: PaymentLink) throws -> Bool {
        try database.read { db in
            try db.execute("INSERT INTO payment_links (id, merchant_id, order_id, body) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                           [.text(link.id), .text(link.merchantID), .text(link.orderID), .text(try AccountJSON.encode(link))])
            return db.changes > 0
        }
    }

    public func paymentLink(id: String) throws -> PaymentLink? {
        try database.execute("SELECT body FROM payment_links WHERE id = $1", [.text(id)]).first.map { try AccountJSON.decode($0[0]) }
    }

    public func paymentLink(merchantID: String, orderID: String) throws -> PaymentLink? {
        try database.execute("SELECT body FROM payment_links WHERE merchant_id = $1 AND order_id = $2", [.text(merchantID), .text(orderID)])
            .first.map { try AccountJSON.decode($0[0]) }
    }

    public func updatePaymentLink<R>(id: String, _ change: (inout PaymentLink) throws -> R) throws -> R? {
        try database.transaction { db in
            guard let row = try db.execute("SELECT body FROM payment_links WHERE id = $1 FOR UPDATE", [.text(id)]).first else { return nil }
            var link: PaymentLink = try AccountJSON.decode(row[0])
            let result = try change(&link)
            try db.execute("UPDATE payment_links SET body = $1 WHERE id = $2", [.text(try AccountJSON.encode(link)), .text(id)])
            return result
        }
    }
}
#endif
