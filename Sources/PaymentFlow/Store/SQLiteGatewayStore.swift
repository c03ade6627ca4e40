import Foundation

/// The gateway's store in one SQLite file (WAL): merchants, transactions, idempotency records
/// and the webhook outbox. Pass ":memory:" for a store that lives as long as the object.
public final class SQLiteGatewayStore: GatewayStore {
    public let database: SQLiteDatabase
    /// At most this many undelivered webhooks wait in the outbox for one merchant. A status
    /// change past it is still recorded, as a webhook given up at once ("outbox full"): the
    /// merchant reads the status (`GET /v2/{id}/status`), and its resend asks for it again.
    /// Without a limit a merchant whose endpoint is down grows the outbox with every payment
    /// for as long as the retries last (about six hours at Midtrans' schedule).
    public let pendingWebhookLimit: Int

    /// The default ``pendingWebhookLimit``.
    public static let defaultPendingWebhookLimit = 10_000

    /// What an outbox-full entry's `last_result` says.
    public static let outboxFullResult = "outbox full"
    /// What an entry a newer status overtook says (see ``claimDueNotifications(now:leaseUntil:limit:share:inFlight:)``).
    public static let overtakenResult = "overtaken by a newer status"

    /// This store's run, a random number: an idempotency claim still running under another run
    /// was made by a gateway that has since stopped (one gateway serves a file) and is never
    /// answered, so it gives way to the next request with its key.
    let run = Int64.random(in: 1...Int64.max)

    public init(path: String, pendingWebhookLimit: Int = SQLiteGatewayStore.defaultPendingWebhookLimit) throws {
        precondition(pendingWebhookLimit > 0, "pendingWebhookLimit must be positive")
        database = try SQLiteDatabase(path: path)
        self.pendingWebhookLimit = pendingWebhookLimit
        try migrate()
    }

    /// The schema's versions (see ``SchemaMigration``); version 1 is the schema as it stood when
    /// versions began, and brings a file from before then up to it.
    static let migrations = [
        SchemaMigration(1, "merchants, transactions, idempotency keys and the webhook outbox", [
            """
            CREATE TABLE IF NOT EXISTS merchants (
                merchant_id TEXT PRIMARY KEY,
                server_key TEXT NOT NULL UNIQUE,
                client_key TEXT NOT NULL UNIQUE,
                notification_url TEXT,
                finish_url TEXT,
                private_webhooks INTEGER NOT NULL DEFAULT 0)
            """,
            """
            CREATE TABLE IF NOT EXISTS transactions (
                transaction_id TEXT PRIMARY KEY,
                merchant_id TEXT NOT NULL,
                order_id TEXT NOT NULL,
                payment_type TEXT NOT NULL,
                status TEXT NOT NULL,
                fraud_status TEXT,
                gross_amount INTEGER NOT NULL,
                refunded INTEGER NOT NULL DEFAULT 0,
                is_card INTEGER NOT NULL,
                transaction_time TEXT NOT NULL,
                bank TEXT, va_number TEXT, masked_card TEXT, approval_code TEXT, expiry_time TEXT,
                override_urls TEXT, append_urls TEXT NOT NULL DEFAULT '[]', extra TEXT NOT NULL DEFAULT '{}',
                authentication_id TEXT,
                announced INTEGER NOT NULL DEFAULT 0,
                reversal_owed INTEGER NOT NULL DEFAULT 0,
                charge_step TEXT NOT NULL DEFAULT 'finished',
                pending_fraud_status TEXT,
                settlement_time TEXT,
                refunds TEXT NOT NULL DEFAULT '[]',
                refund_owed INTEGER NOT NULL DEFAULT 0)
            """,
            // The gateway checks that no VA number is ever used twice.
            "CREATE INDEX IF NOT EXISTS transactions_by_va ON transactions (va_number) WHERE va_number IS NOT NULL",
            // The charge saga's step decides recovery: an index for "in flight".
            "CREATE INDEX IF NOT EXISTS transactions_by_step ON transactions (status, charge_step)",
            "CREATE INDEX IF NOT EXISTS transactions_by_order ON transactions (merchant_id, order_id)",
            // A merchant's latest transactions (the instructor's view): rowid order within the merchant.
            "CREATE INDEX IF NOT EXISTS transactions_by_merchant ON transactions (merchant_id)",
            "CREATE INDEX IF NOT EXISTS transactions_by_expiry ON transactions (status, expiry_time)",
            // Settlement looks for captures older than D+1: by status and time, not a scan of all captures.
            "CREATE INDEX IF NOT EXISTS transactions_by_time ON transactions (status, transaction_time)",
            // What the bank is owed, found without reading every transaction (the timers ask several
            // times a second; an idle gateway with a million transactions must stay idle).
            "CREATE INDEX IF NOT EXISTS transactions_owed ON transactions (transaction_id) WHERE reversal_owed = 1 OR refund_owed = 1",
            """
            CREATE TABLE IF NOT EXISTS idempotency (
                merchant_id TEXT NOT NULL,
                key TEXT NOT NULL,
                status INTEGER NOT NULL,
                body BLOB NOT NULL,
                stored_at INTEGER NOT NULL,
                fingerprint TEXT NOT NULL DEFAULT '',
                running INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (merchant_id, key))
            """,
            """
            CREATE TABLE IF NOT EXISTS outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                merchant_id TEXT NOT NULL,
                order_id TEXT NOT NULL,
                transaction_status TEXT NOT NULL,
                url TEXT NOT NULL,
                body BLOB NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at INTEGER NOT NULL,
                delivered_at INTEGER,
                gave_up_at INTEGER,
                last_result TEXT,
                leased INTEGER NOT NULL DEFAULT 0)
            """,
            "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND gave_up_at IS NULL",
            // Per-order ordering asks "is an older entry of this order still undelivered?".
            "CREATE INDEX IF NOT EXISTS outbox_by_order ON outbox (merchant_id, order_id, id)",
            // The merchant's newest entries (the delivery history without an order).
            "CREATE INDEX IF NOT EXISTS outbox_by_merchant ON outbox (merchant_id, id)",
            // The per-merchant limit counts a merchant's undelivered entries on every status change.
            "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (merchant_id) WHERE delivered_at IS NULL AND gave_up_at IS NULL",
        ]),
        // Which run of the gateway a running claim is on: one from an earlier run gives way at once.
        SchemaMigration(2, "idempotency claims carry their run", ["ALTER TABLE idempotency ADD COLUMN owner INTEGER"]),
    ]

    /// Columns added before versions began: a file from then gains them in version 1.
    private static let unversionedColumns: [(table: String, column: String, definition: String)] = [
        ("transactions", "reversal_owed", "INTEGER NOT NULL DEFAULT 0"),
        ("transactions", "charge_step", "TEXT NOT NULL DEFAULT 'finished'"),
        ("transactions", "pending_fraud_status", "TEXT"),
        ("transactions", "settlement_time", "TEXT"),
        ("transactions", "refunds", "TEXT NOT NULL DEFAULT '[]'"),
        ("transactions", "refund_owed", "INTEGER NOT NULL DEFAULT 0"),
        // An idempotency key is bound to the request that first used it; "running" until answered.
        ("idempotency", "fingerprint", "TEXT NOT NULL DEFAULT ''"),
        ("idempotency", "running", "INTEGER NOT NULL DEFAULT 0"),
        // Taken by a deliverer until next_attempt_at (a resend must not hand it out twice).
        ("outbox", "leased", "INTEGER NOT NULL DEFAULT 0"),
        // Snap's fallback finish URL (the dashboard's Snap preference).
        ("merchants", "finish_url", "TEXT"),
        // Webhooks to loopback and private addresses: lab merchants only.
        ("merchants", "private_webhooks", "INTEGER NOT NULL DEFAULT 0"),
    ]

    private func migrate() throws {
        try SchemaMigration.apply(Self.migrations, component: "gateway", to: database) { migration, db in
            guard migration.version == 1 else { return }
            // A file from before versions: its tables lack the columns added since they were made.
            for (table, column, definition) in Self.unversionedColumns {
                let columns = try db.execute("PRAGMA table_info(\(table))").compactMap { $0[1].text }
                guard !columns.isEmpty, !columns.contains(column) else { continue }
                try db.execute("ALTER TABLE \(table) ADD COLUMN \(column) \(definition)")
                if column == "charge_step" {
                    // Charges reserved and never answered by the old version are in flight.
                    try db.execute("UPDATE transactions SET charge_step = 'reserved' WHERE status = 'pending' AND announced = 0")
                }
            }
        }
    }

    // MARK: Merchants

    public func merchants() throws -> [MerchantAccount] {
        try database.execute("SELECT merchant_id, server_key, client_key, notification_url, finish_url, private_webhooks FROM merchants ORDER BY merchant_id").map {
            MerchantAccount(merchantID: $0[0].text ?? "", serverKey: $0[1].text ?? "", clientKey: $0[2].text ?? "", notificationURL: $0[3].text,
                            finishURL: $0[4].text, allowsPrivateWebhooks: $0[5].integer == 1)
        }
    }

    public func saveMerchant(_ merchant: MerchantAccount) throws {
        try database.execute(
            """
            INSERT INTO merchants (merchant_id, server_key, client_key, notification_url, finish_url, private_webhooks) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (merchant_id) DO UPDATE SET server_key = excluded.server_key,
                client_key = excluded.client_key, notification_url = excluded.notification_url, finish_url = excluded.finish_url,
                private_webhooks = excluded.private_webhooks
            """,
            [.text(merchant.merchantID), .text(merchant.serverKey), .text(merchant.clientKey), merchant.notificationURL.map(SQLValue.text) ?? .null,
             merchant.finishURL.map(SQLValue.text) ?? .null, .integer(merchant.allowsPrivateWebhooks ? 1 : 0)])
    }

    public func removeMerchant(id: String) throws -> Bool {
        try database.transaction { db in
            try db.execute("DELETE FROM merchants WHERE merchant_id = ?", [.text(id)])
            return db.changes > 0
        }
    }

    // MARK: Transactions


    private static let insertStatement =
        "INSERT INTO transactions (\(TransactionRow.columns)) VALUES (\(Array(repeating: "?", count: TransactionRow.columnCount).joined(separator: ", ")))"
    /// `UPDATE … SET merchant_id = ?2, … WHERE transaction_id = ?1` (the rowid, and with it the
    /// "latest for this order id" order, stays).
    private static let updateStatement: String = {
        let names = TransactionRow.columns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let assignments = names.enumerated().dropFirst().map { "\($1) = ?\($0 + 1)" }.joined(separator: ", ")
        return "UPDATE transactions SET \(assignments) WHERE \(names[0]) = ?1"
    }()

    public func find(merchantID: String, id: String) throws -> GatewayTransaction? {
        try database.read { db in try Self.find(db, merchantID: merchantID, id: id) }
    }

    /// By transaction id, else the latest transaction with that order id.
    private static func find(_ db: SQLiteDatabase.Statements, merchantID: String, id: String) throws -> GatewayTransaction? {
        // Two lookups, each by an index (an `OR` across the two columns would scan every row
        // of the merchant: the benchmark showed charges slowing as the table grew).
        let byTransaction = try db.execute(
            "SELECT \(TransactionRow.columns) FROM transactions WHERE transaction_id = ?2 AND merchant_id = ?1", [.text(merchantID), .text(id)])
        if let row = byTransaction.first { return try TransactionRow.decode(row) }
        let byOrder = try db.execute(
            "SELECT \(TransactionRow.columns) FROM transactions WHERE merchant_id = ?1 AND order_id = ?2 ORDER BY rowid DESC LIMIT 1",
            [.text(merchantID), .text(id)])
        return try byOrder.first.map(TransactionRow.decode)
    }

    public func transactions(merchantID: String, orderID: String) throws -> [GatewayTransaction] {
        try database.execute("SELECT \(TransactionRow.columns) FROM transactions WHERE merchant_id = ? AND order_id = ? ORDER BY rowid DESC",
                             [.text(merchantID), .text(orderID)]).map(TransactionRow.decode)
    }

    public func recentTransactions(merchantID: String, limit: Int) throws -> [GatewayTransaction] {
        try database.execute("SELECT \(TransactionRow.columns) FROM transactions INDEXED BY transactions_by_merchant WHERE merchant_id = ? ORDER BY rowid DESC LIMIT ?",
                             [.text(merchantID), .integer(Int64(max(0, limit)))]).map(TransactionRow.decode)
    }

    public func transaction(vaNumber: String) throws -> GatewayTransaction? {
        try database.execute("SELECT \(TransactionRow.columns) FROM transactions WHERE va_number = ? ORDER BY rowid LIMIT 1", [.text(vaNumber)])
            .first.map(TransactionRow.decode)
    }

    public func reserve(_ transaction: GatewayTransaction) throws -> Bool {
        try database.transaction { db in
            if let current = try Self.find(db, merchantID: transaction.merchantID, id: transaction.orderID),
                current.orderID == transaction.orderID,
                ![.cancel, .expire, .failure, .deny].contains(current.state.status)
            {
                return false
            }
            try db.execute(Self.insertStatement, TransactionRow.encode(transaction))
            return true
        }
    }

    public func update<R>(merchantID: String, id: String, _ change: (inout GatewayTransaction, inout [WebhookDraft]) throws -> R) throws -> R? {
        try database.transaction { db in
            guard let before = try Self.find(db, merchantID: merchantID, id: id) else { return nil }
            var after = before
            var webhooks: [WebhookDraft] = []
            let result = try change(&after, &webhooks)
            after.transactionID = before.transactionID
            after.merchantID = before.merchantID
            after.orderID = before.orderID
            if after != before { try db.execute(Self.updateStatement, TransactionRow.encode(after)) }
            for webhook in webhooks {
                let pending = try db.execute(
                    """
                    SELECT COUNT(*) FROM (SELECT 1 FROM outbox INDEXED BY outbox_pending
                                          WHERE merchant_id = ? AND delivered_at IS NULL AND gave_up_at IS NULL LIMIT ?)
                    """,
                    [.text(after.merchantID), .integer(Int64(pendingWebhookLimit))]).first?[0].integer ?? 0
                let full = pending >= pendingWebhookLimit
                try db.execute(
                    """
                    INSERT INTO outbox (merchant_id, order_id, transaction_status, url, body, next_attempt_at, gave_up_at, last_result)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [.text(after.merchantID), .text(after.orderID), .text(webhook.transactionStatus.rawValue), .text(webhook.url),
                     .blob(webhook.body), .integer(webhook.dueAt), full ? .integer(webhook.dueAt) : .null,
                     full ? .text(Self.outboxFullResult) : .null])
            }
            return result
        }
    }

    public func expired(before now: String) throws -> [GatewayTransaction] {
        try database.execute(
            "SELECT \(TransactionRow.columns) FROM transactions WHERE status IN ('pending', 'authorize') AND expiry_time IS NOT NULL AND expiry_time < ?",
            [.text(now)]
        ).map(TransactionRow.decode)
    }

    public func chargesInFlight() throws -> [GatewayTransaction] {
        try database.execute("SELECT \(TransactionRow.columns) FROM transactions WHERE status = 'pending' AND charge_step != 'finished'")
            .map(TransactionRow.decode).filter { $0.charge.isInDoubtAfterCrash }
    }

    public func captured(before cutoff: String) throws -> [GatewayTransaction] {
        try database.execute(
            "SELECT \(TransactionRow.columns) FROM transactions WHERE status = 'capture' AND fraud_status = 'accept' AND transaction_time < ?",
            [.text(cutoff)]
        ).map(TransactionRow.decode)
    }

    public func bankObligations() throws -> [GatewayTransaction] {
        try database.execute("SELECT \(TransactionRow.columns) FROM transactions WHERE reversal_owed = 1 OR refund_owed = 1").map(TransactionRow.decode)
    }

    // MARK: Idempotency

    public func claimIdempotencyKey(merchantID: String, key: String, fingerprint: String, now: Int64, lifetime: Int64) throws -> IdempotencyClaim {
        try database.transaction { db in
            let rows = try db.execute(
                "SELECT status, body, stored_at, fingerprint, running, owner FROM idempotency WHERE merchant_id = ? AND key = ?",
                [.text(merchantID), .text(key)])
            // A claim still running under an earlier run will never be answered: like one past
            // its lifetime, it gives way (see the protocol for why running it again is safe).
            if let row = rows.first, now - (row[2].integer ?? 0) < lifetime, !(row[4].integer == 1 && row[5].integer != run) {
                guard row[3].text == fingerprint else { return .boundToAnotherRequest }
                if row[4].integer == 1 { return .running }
                var body: [UInt8] = []
                if case .blob(let bytes) = row[1] { body = bytes }
                return .replay(IdempotentAnswer(status: Int(row[0].integer ?? 0), body: body, storedAt: row[2].integer ?? 0))
            }
            // Unknown, past its lifetime, or abandoned: this request's now.
            try db.execute(
                "INSERT OR REPLACE INTO idempotency (merchant_id, key, status, body, stored_at, fingerprint, running, owner) VALUES (?, ?, 0, x'', ?, ?, 1, ?)",
                [.text(merchantID), .text(key), .integer(now), .text(fingerprint), .integer(run)])
            return .claimed
        }
    }

    // A claim's answer and release are fenced by its start and its run (which never changes
    // while the store is open): a request whose claim was taken over writes nothing.

    public func completeIdempotencyKey(merchantID: String, key: String, claimedAt: Int64, answer: IdempotentAnswer) throws {
        try database.execute(
            "UPDATE idempotency SET status = ?, body = ?, running = 0 WHERE merchant_id = ? AND key = ? AND running = 1 AND stored_at = ? AND owner = ?",
            [.integer(Int64(answer.status)), .blob(answer.body), .text(merchantID), .text(key), .integer(claimedAt), .integer(run)])
    }

    public func releaseIdempotencyKey(merchantID: String, key: String, claimedAt: Int64) throws {
        try database.execute("DELETE FROM idempotency WHERE merchant_id = ? AND key = ? AND running = 1 AND stored_at = ? AND owner = ?",
                             [.text(merchantID), .text(key), .integer(claimedAt), .integer(run)])
    }

    // MARK: Outbox

    public func claimDueNotifications(now: Int64, leaseUntil: Int64, limit: Int, share: Int, inFlight: [String: Int]) throws -> [OutboxEntry] {
        // Most passes find nothing due: look first, without taking the write lock.
        let anything = try database.execute(
            "SELECT 1 FROM outbox WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= ? LIMIT 1", [.integer(now)])
        guard !anything.isEmpty else { return [] }
        // Merchants at their share are left out in the query itself, so a merchant with many
        // webhooks due cannot fill the candidates and hide everyone else's.
        let skipped = inFlight.filter { $0.value >= share }.keys.sorted()
        let exclusion = skipped.isEmpty ? "" : "AND merchant_id NOT IN (\(Array(repeating: "?", count: skipped.count).joined(separator: ", ")))"
        return try database.transaction { db in
            // An entry with a newer one of its order and URL delivered or under way is overtaken
            // (a resend made a given-up one due while a newer one was out): sending it now would
            // tell the merchant an older status after a newer one. It is given up for good.
            try db.execute(
                """
                UPDATE outbox SET gave_up_at = ?1, last_result = ?2, leased = 0
                WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= ?1
                  AND EXISTS (SELECT 1 FROM outbox AS n WHERE n.merchant_id = outbox.merchant_id AND n.order_id = outbox.order_id
                              AND n.url = outbox.url AND n.id > outbox.id
                              AND (n.delivered_at IS NOT NULL OR (n.leased = 1 AND n.next_attempt_at > ?1)))
                """, [.integer(now), .text(Self.overtakenResult)])
            // An entry due but behind an older undelivered one of its order and URL cannot go
            // before it: it waits until the older one's next attempt (and is released at once
            // when that one is delivered or given up, in `settle`). Without this, every pass
            // would look again at every waiting entry — thousands when a merchant's endpoint is
            // down — while holding the write lock.
            try db.execute(
                """
                UPDATE outbox SET leased = 0, next_attempt_at = (
                    SELECT MAX(p.next_attempt_at) FROM outbox AS p WHERE p.merchant_id = outbox.merchant_id
                      AND p.order_id = outbox.order_id AND p.url = outbox.url AND p.id < outbox.id
                      AND p.delivered_at IS NULL AND p.gave_up_at IS NULL)
                WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= ?1
                  AND EXISTS (SELECT 1 FROM outbox AS p WHERE p.merchant_id = outbox.merchant_id AND p.order_id = outbox.order_id
                              AND p.url = outbox.url AND p.id < outbox.id AND p.delivered_at IS NULL AND p.gave_up_at IS NULL
                              AND p.next_attempt_at > ?1)
                """, [.integer(now)])
            // Due, and the oldest undelivered entry of its order and URL (a newer status waits
            // until the older one is delivered or given up). A leased entry is undelivered too,
            // so its successors wait for its outcome.
            let candidates = try db.execute(
                """
                SELECT \(TransactionRow.outboxColumns) FROM outbox AS o
                WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= ? \(exclusion)
                  AND NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.merchant_id = o.merchant_id AND p.order_id = o.order_id
                                  AND p.url = o.url AND p.id < o.id AND p.delivered_at IS NULL AND p.gave_up_at IS NULL)
                ORDER BY next_attempt_at, id LIMIT ?
                """, [.integer(now)] + skipped.map(SQLValue.text) + [.integer(Int64(limit) * 4)]
            ).map(TransactionRow.decodeOutbox)
            var taken: [OutboxEntry] = []
            var busy = inFlight
            for entry in candidates where taken.count < limit && busy[entry.merchantID, default: 0] < share {
                busy[entry.merchantID, default: 0] += 1
                try db.execute("UPDATE outbox SET next_attempt_at = ?, leased = 1 WHERE id = ?", [.integer(leaseUntil), .integer(entry.id)])
                var leased = entry
                leased.nextAttemptAt = leaseUntil
                taken.append(leased)
            }
            return taken
        }
    }

    public func nextNotificationDue() throws -> Int64? {
        try database.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE delivered_at IS NULL AND gave_up_at IS NULL").first?[0].integer
    }

    /// `AND (no lease is asked for, or it is still the entry's)`, the lease being parameter `?n`.
    private static func fence(_ n: Int) -> String { "AND (?\(n) IS NULL OR (leased = 1 AND next_attempt_at = ?\(n)))" }

    public func markDelivered(id: Int64, at: Int64, result: String, lease: Int64?) throws {
        try database.transaction { db in
            try db.execute("UPDATE outbox SET delivered_at = ?1, last_result = ?2, leased = 0 WHERE id = ?3 \(Self.fence(4))",
                           [.integer(at), .text(result), .integer(id), lease.map(SQLValue.integer) ?? .null])
            if db.changes > 0 { try Self.releaseSuccessor(db, of: id, at: at) }
        }
    }

    public func markFailed(id: Int64, attempts: Int, nextAttemptAt: Int64?, at: Int64, result: String, lease: Int64?) throws {
        let fence = lease.map(SQLValue.integer) ?? .null
        if let nextAttemptAt {
            try database.execute("UPDATE outbox SET attempts = ?1, next_attempt_at = ?2, last_result = ?3, leased = 0 WHERE id = ?4 \(Self.fence(5))",
                                 [.integer(Int64(attempts)), .integer(nextAttemptAt), .text(result), .integer(id), fence])
        } else {
            try database.transaction { db in
                try db.execute("UPDATE outbox SET attempts = ?1, gave_up_at = ?2, last_result = ?3, leased = 0 WHERE id = ?4 \(Self.fence(5))",
                               [.integer(Int64(attempts)), .integer(at), .text(result), .integer(id), fence])
                if db.changes > 0 { try Self.releaseSuccessor(db, of: id, at: at) }
            }
        }
    }

    /// The entry `id` is settled (delivered or given up): the next undelivered one of its order
    /// and URL, which a claim may have set to wait for it, is due now.
    private static func releaseSuccessor(_ db: SQLiteDatabase.Statements, of id: Int64, at: Int64) throws {
        try db.execute(
            """
            UPDATE outbox SET next_attempt_at = MIN(next_attempt_at, ?2) WHERE leased = 0 AND id = (
                SELECT n.id FROM outbox AS n JOIN outbox AS d ON d.id = ?1
                WHERE n.merchant_id = d.merchant_id AND n.order_id = d.order_id AND n.url = d.url AND n.id > d.id
                  AND n.delivered_at IS NULL AND n.gave_up_at IS NULL
                ORDER BY n.id LIMIT 1)
            """, [.integer(id), .integer(at)])
    }

    public func resendNotifications(merchantID: String, orderID: String?, now: Int64) throws -> Int {
        try database.transaction { db in
            try db.execute(
                """
                UPDATE outbox SET next_attempt_at = ?1, gave_up_at = NULL WHERE merchant_id = ?2 AND (?3 IS NULL OR order_id = ?3)
                  AND delivered_at IS NULL AND NOT (leased = 1 AND next_attempt_at > ?1)
                  AND NOT (gave_up_at IS NOT NULL AND EXISTS (
                      SELECT 1 FROM outbox AS n WHERE n.merchant_id = outbox.merchant_id AND n.order_id = outbox.order_id
                      AND n.url = outbox.url AND n.id > outbox.id AND n.delivered_at IS NOT NULL))
                """,
                [.integer(now), .text(merchantID), orderID.map(SQLValue.text) ?? .null])
            return db.changes
        }
    }

    public func notifications(merchantID: String, orderID: String?, newest: Int?) throws -> [OutboxEntry] {
        let order = orderID == nil ? "" : "AND order_id = ?"
        let newestFirst = try database.execute(
            "SELECT \(TransactionRow.outboxColumns) FROM outbox WHERE merchant_id = ? \(order) ORDER BY id DESC LIMIT ?",
            [.text(merchantID)] + (orderID.map { [SQLValue.text($0)] } ?? []) + [.integer(newest.map(Int64.init) ?? -1)])
        return newestFirst.reversed().map(TransactionRow.decodeOutbox)
    }
}
