#if NETLAB_POSTGRES
import Foundation

/// The gateway's store on PostgreSQL, shared by every instance of the gateway (`--store
/// postgres://…`; docs/SCALING.md). The same contract as ``SQLiteGatewayStore`` — the same
/// contract tests run on both — with what several writers at once need:
/// - **order ids:** a partial unique index over `(merchant_id, order_id)` for transactions not
///   cancelled, expired, denied or failed: two instances reserving one order id at once cannot
///   both succeed — the database refuses the second, no lock needed;
/// - **changes:** the row is read `FOR UPDATE`, so two instances changing one transaction take
///   turns, and the change and its webhooks commit together;
/// - **idempotency keys:** inserted if absent (`ON CONFLICT DO NOTHING`), else locked and read;
/// - **the outbox:** due entries are claimed `FOR UPDATE SKIP LOCKED` and leased: deliverers on
///   several instances each take different entries, never wait for each other, and an entry
///   whose deliverer died is due again when its lease runs out;
/// - **recovery:** each transaction carries the instance that last moved it (`owner`); a charge
///   in flight is listed only when that instance is this one or gone (``PostgresInstance``).
///
/// Its statements mirror ``SQLiteGatewayStore``'s one for one, in PostgreSQL's dialect (`$n`
/// parameters, `seq` for rowid, `LEAST`, row locks): each store reads whole on its own, and the
/// contract tests, run on both, hold them to the same behaviour.
public final class PostgresGatewayStore: GatewayStore {
    public let database: PostgresDatabase
    /// This gateway instance, when the store serves one (nil: a tool, e.g. `netlab gateway merchant`).
    public let instance: PostgresInstance?
    public let pendingWebhookLimit: Int

    public init(database: PostgresDatabase, instance: PostgresInstance? = nil,
                pendingWebhookLimit: Int = SQLiteGatewayStore.defaultPendingWebhookLimit) throws {
        precondition(pendingWebhookLimit > 0, "pendingWebhookLimit must be positive")
        self.database = database
        self.instance = instance
        self.pendingWebhookLimit = pendingWebhookLimit
        try Self.migrate(database)
    }

    /// Applies the schema's versions the database lacks (several instances starting at once
    /// take turns).
    public static func migrate(_ database: PostgresDatabase) throws {
        try SchemaMigration.apply(migrations, component: "gateway", to: database)
    }

    /// The schema's versions (see ``SchemaMigration``).
    static let migrations = [
        SchemaMigration(1, "merchants, transactions, idempotency keys, the webhook outbox and the instances", [
            """
            CREATE TABLE merchants (
                merchant_id TEXT PRIMARY KEY,
                server_key TEXT NOT NULL UNIQUE,
                client_key TEXT NOT NULL UNIQUE,
                notification_url TEXT,
                finish_url TEXT,
                private_webhooks INTEGER NOT NULL DEFAULT 0)
            """,
            """
            CREATE TABLE transactions (
                seq BIGSERIAL UNIQUE,
                transaction_id TEXT PRIMARY KEY,
                merchant_id TEXT NOT NULL,
                order_id TEXT NOT NULL,
                payment_type TEXT NOT NULL,
                status TEXT NOT NULL,
                fraud_status TEXT,
                gross_amount BIGINT NOT NULL,
                refunded BIGINT NOT NULL DEFAULT 0,
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
                refund_owed INTEGER NOT NULL DEFAULT 0,
                owner BIGINT)
            """,
            // At most one live transaction per order id: the database settles a race of two reserves.
            """
            CREATE UNIQUE INDEX transactions_live_order ON transactions (merchant_id, order_id)
                WHERE status NOT IN ('cancel', 'expire', 'failure', 'deny')
            """,
            "CREATE INDEX transactions_by_order ON transactions (merchant_id, order_id, seq)",
            "CREATE INDEX transactions_by_merchant ON transactions (merchant_id, seq)",
            "CREATE INDEX transactions_by_va ON transactions (va_number) WHERE va_number IS NOT NULL",
            "CREATE INDEX transactions_in_flight ON transactions (transaction_id) WHERE status = 'pending' AND charge_step <> 'finished'",
            "CREATE INDEX transactions_by_expiry ON transactions (status, expiry_time)",
            "CREATE INDEX transactions_by_time ON transactions (status, transaction_time)",
            "CREATE INDEX transactions_owed ON transactions (transaction_id) WHERE reversal_owed = 1 OR refund_owed = 1",
            """
            CREATE TABLE idempotency (
                merchant_id TEXT NOT NULL,
                key TEXT NOT NULL,
                status INTEGER NOT NULL,
                body BYTEA NOT NULL,
                stored_at BIGINT NOT NULL,
                fingerprint TEXT NOT NULL DEFAULT '',
                running INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (merchant_id, key))
            """,
            """
            CREATE TABLE outbox (
                id BIGSERIAL PRIMARY KEY,
                merchant_id TEXT NOT NULL,
                order_id TEXT NOT NULL,
                transaction_status TEXT NOT NULL,
                url TEXT NOT NULL,
                body BYTEA NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at BIGINT NOT NULL,
                delivered_at BIGINT,
                gave_up_at BIGINT,
                last_result TEXT,
                leased INTEGER NOT NULL DEFAULT 0)
            """,
            "CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND gave_up_at IS NULL",
            "CREATE INDEX outbox_by_order ON outbox (merchant_id, order_id, url, id)",
            "CREATE INDEX outbox_by_merchant ON outbox (merchant_id, id)",
            "CREATE INDEX outbox_pending ON outbox (merchant_id) WHERE delivered_at IS NULL AND gave_up_at IS NULL",
            // Each instance's number; its liveness is its advisory lock (see PostgresInstance).
            "CREATE TABLE gateway_instances (id BIGSERIAL PRIMARY KEY, started_at TIMESTAMPTZ NOT NULL, pid BIGINT NOT NULL)",
            // Card tokens and Snap sessions (EphemeralStore): unlogged — never in the write-ahead
            // log, emptied by a crash of the server, as short-lived records may be.
            """
            CREATE UNLOGGED TABLE ephemeral (
                kind TEXT NOT NULL,
                key TEXT NOT NULL,
                value BYTEA NOT NULL,
                expires_at BIGINT NOT NULL,
                PRIMARY KEY (kind, key))
            """,
            "CREATE INDEX ephemeral_by_expiry ON ephemeral (expires_at)",
        ]),
        // Which instance a running claim is on: one whose instance is gone gives way at once.
        SchemaMigration(2, "idempotency claims carry their instance", ["ALTER TABLE idempotency ADD COLUMN owner BIGINT"]),
    ]

    // MARK: Merchants

    public func merchants() throws -> [MerchantAccount] {
        try database.execute(
            "SELECT merchant_id, server_key, client_key, notification_url, finish_url, private_webhooks FROM merchants ORDER BY merchant_id"
        ).map {
            MerchantAccount(merchantID: $0[0].text ?? "", serverKey: $0[1].text ?? "", clientKey: $0[2].text ?? "", notificationURL: $0[3].text,
                            finishURL: $0[4].text, allowsPrivateWebhooks: $0[5].integer == 1)
        }
    }

    public func saveMerchant(_ merchant: MerchantAccount) throws {
        try database.transaction { db in
            try db.execute(
                """
                INSERT INTO merchants (merchant_id, server_key, client_key, notification_url, finish_url, private_webhooks)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (merchant_id) DO UPDATE SET server_key = excluded.server_key, client_key = excluded.client_key,
                    notification_url = excluded.notification_url, finish_url = excluded.finish_url, private_webhooks = excluded.private_webhooks
                """,
                [.text(merchant.merchantID), .text(merchant.serverKey), .text(merchant.clientKey), merchant.notificationURL.map(SQLValue.text) ?? .null,
                 merchant.finishURL.map(SQLValue.text) ?? .null, .integer(merchant.allowsPrivateWebhooks ? 1 : 0)])
            // Every instance drops its cached keys when this commits.
            try db.execute("SELECT pg_notify('\(PostgresInstance.merchantsChannel)', '')")
        }
    }

    public func removeMerchant(id: String) throws -> Bool {
        try database.transaction { db in
            try db.execute("DELETE FROM merchants WHERE merchant_id = $1", [.text(id)])
            let removed = db.changes > 0
            if removed { try db.execute("SELECT pg_notify('\(PostgresInstance.merchantsChannel)', '')") }
            return removed
        }
    }

    // MARK: Transactions

    private static let insertStatement =
        "INSERT INTO transactions (\(TransactionRow.columns), owner) VALUES (\((1...TransactionRow.columnCount + 1).map { "$\($0)" }.joined(separator: ", ")))"
        + " ON CONFLICT (merchant_id, order_id) WHERE status NOT IN ('cancel', 'expire', 'failure', 'deny') DO NOTHING"
    /// `UPDATE … SET merchant_id = $2, …, owner = $N WHERE transaction_id = $1`.
    private static let updateStatement: String = {
        let names = TransactionRow.columns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } + ["owner"]
        let assignments = names.enumerated().dropFirst().map { "\($1) = $\($0 + 1)" }.joined(separator: ", ")
        return "UPDATE transactions SET \(assignments) WHERE \(names[0]) = $1"
    }()

    private var owner: SQLValue { instance.map { .integer($0.id) } ?? .null }

    public func find(merchantID: String, id: String) throws -> GatewayTransaction? {
        try database.read { db in try Self.find(db, merchantID: merchantID, id: id, lock: false) }
    }

    /// By transaction id, else the latest transaction with that order id; `lock`: `FOR UPDATE`.
    private static func find(_ db: PostgresConnection, merchantID: String, id: String, lock: Bool) throws -> GatewayTransaction? {
        let forUpdate = lock ? " FOR UPDATE" : ""
        let byTransaction = try db.execute(
            "SELECT \(TransactionRow.columns) FROM transactions WHERE transaction_id = $2 AND merchant_id = $1\(forUpdate)", [.text(merchantID), .text(id)])
        if let row = byTransaction.first { return try TransactionRow.decode(row) }
        let byOrder = try db.execute(
            "SELECT \(TransactionRow.columns) FROM transactions WHERE merchant_id = $1 AND order_id = $2 ORDER BY seq DESC LIMIT 1\(forUpdate)",
            [.text(merchantID), .text(id)])
        return try byOrder.first.map(TransactionRow.decode)
    }

    public func transactions(merchantID: String, orderID: String) throws -> [GatewayTransaction] {
        try database.execute("SELECT \(TransactionRow.columns) FROM transactions WHERE merchant_id = $1 AND order_id = $2 ORDER BY seq DESC",
                             [.text(merchantID), .text(orderID)]).map(TransactionRow.decode)
    }

    public func recentTransactions(merchantID: String, limit: Int) throws -> [GatewayTransaction] {
        try database.execute("SELECT \(TransactionRow.columns) FROM transactions WHERE merchant_id = $1 ORDER BY seq DESC LIMIT $2",
                             [.text(merchantID), .integer(Int64(max(0, limit)))]).map(TransactionRow.decode)
    }

    public func transaction(vaNumber: String) throws -> GatewayTransaction? {
        try database.execute("SELECT \(TransactionRow.columns) FROM transactions WHERE va_number = $1 ORDER BY seq LIMIT 1", [.text(vaNumber)])
            .first.map(TransactionRow.decode)
    }

    public func reserve(_ transaction: GatewayTransaction) throws -> Bool {
        try database.read { db in
            try db.execute(Self.insertStatement, TransactionRow.encode(transaction) + [owner])
            return db.changes == 1
        }
    }

    public func update<R>(merchantID: String, id: String, _ change: (inout GatewayTransaction, inout [WebhookDraft]) throws -> R) throws -> R? {
        try database.transaction { db in
            guard let before = try Self.find(db, merchantID: merchantID, id: id, lock: true) else { return nil }
            var after = before
            var webhooks: [WebhookDraft] = []
            let result = try change(&after, &webhooks)
            after.transactionID = before.transactionID
            after.merchantID = before.merchantID
            after.orderID = before.orderID
            // The instance that moves a transaction owns its next step (an OTP check runs where it was posted).
            if after != before { try db.execute(Self.updateStatement, TransactionRow.encode(after) + [owner]) }
            for webhook in webhooks {
                let pending = try db.execute(
                    """
                    SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE merchant_id = $1 AND delivered_at IS NULL AND gave_up_at IS NULL LIMIT $2) AS p
                    """,
                    [.text(after.merchantID), .integer(Int64(pendingWebhookLimit))]).first?[0].integer ?? 0
                let full = pending >= pendingWebhookLimit
                try db.execute(
                    """
                    INSERT INTO outbox (merchant_id, order_id, transaction_status, url, body, next_attempt_at, gave_up_at, last_result)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    """,
                    [.text(after.merchantID), .text(after.orderID), .text(webhook.transactionStatus.rawValue), .text(webhook.url),
                     .blob(webhook.body), .integer(webhook.dueAt), full ? .integer(webhook.dueAt) : .null,
                     full ? .text(SQLiteGatewayStore.outboxFullResult) : .null])
            }
            return result
        }
    }

    public func expired(before now: String) throws -> [GatewayTransaction] {
        try database.execute(
            "SELECT \(TransactionRow.columns) FROM transactions WHERE status IN ('pending', 'authorize') AND expiry_time IS NOT NULL AND expiry_time < $1",
            [.text(now)]
        ).map(TransactionRow.decode)
    }

    /// Charges with a call in flight whose instance is this one or gone (a live instance's
    /// charges are running there).
    public func chargesInFlight() throws -> [GatewayTransaction] {
        try database.execute(
            """
            SELECT \(TransactionRow.columns) FROM transactions AS t WHERE status = 'pending' AND charge_step <> 'finished'
              AND (owner IS NULL OR owner = $1 OR \(PostgresLocks.instanceIsGone("t.owner", classParameter: "$2")))
            """, [instance.map { .integer($0.id) } ?? .integer(-1), .integer(Int64(PostgresLocks.instanceClass))]
        ).map(TransactionRow.decode).filter { $0.charge.isInDoubtAfterCrash }
    }

    public func captured(before cutoff: String) throws -> [GatewayTransaction] {
        try database.execute(
            "SELECT \(TransactionRow.columns) FROM transactions WHERE status = 'capture' AND fraud_status = 'accept' AND transaction_time < $1",
            [.text(cutoff)]
        ).map(TransactionRow.decode)
    }

    public func bankObligations() throws -> [GatewayTransaction] {
        try database.execute("SELECT \(TransactionRow.columns) FROM transactions WHERE reversal_owed = 1 OR refund_owed = 1").map(TransactionRow.decode)
    }

    // MARK: Idempotency

    public func claimIdempotencyKey(merchantID: String, key: String, fingerprint: String, now: Int64, lifetime: Int64) throws -> IdempotencyClaim {
        try database.transaction { db in
            // A key absent is inserted; a key present is locked and read. Between the two its
            // claim may be released (deleted) by another request: then it is absent again, and
            // the insert is tried anew — never a claim without its row.
            while true {
                try db.execute(
                    """
                    INSERT INTO idempotency (merchant_id, key, status, body, stored_at, fingerprint, running, owner)
                    VALUES ($1, $2, 0, '\\x', $3, $4, 1, $5)
                    ON CONFLICT (merchant_id, key) DO NOTHING
                    """, [.text(merchantID), .text(key), .integer(now), .text(fingerprint), owner])
                if db.changes == 1 { return .claimed }
                guard let row = try db.execute(
                    """
                    SELECT status, body, stored_at, fingerprint, running, owner IS NOT NULL AND owner <> $3 AND \(PostgresLocks.instanceIsGone("owner", classParameter: "$4"))
                    FROM idempotency WHERE merchant_id = $1 AND key = $2 FOR UPDATE
                    """,
                    [.text(merchantID), .text(key), instance.map { .integer($0.id) } ?? .integer(-1), .integer(Int64(PostgresLocks.instanceClass))]).first
                else { continue }
                // A claim still running on an instance that is gone will never be answered: like
                // one past its lifetime, it gives way to this request (see the protocol for why
                // running it again is safe).
                let abandoned = row[4].integer == 1 && row[5].integer == 1
                if now - (row[2].integer ?? 0) < lifetime && !abandoned {
                    guard row[3].text == fingerprint else { return .boundToAnotherRequest }
                    if row[4].integer == 1 { return .running }
                    return .replay(IdempotentAnswer(status: Int(row[0].integer ?? 0), body: row[1].bytes ?? [], storedAt: row[2].integer ?? 0))
                }
                try db.execute(
                    "UPDATE idempotency SET status = 0, body = '\\x', stored_at = $3, fingerprint = $4, running = 1, owner = $5 WHERE merchant_id = $1 AND key = $2",
                    [.text(merchantID), .text(key), .integer(now), .text(fingerprint), owner])
                return .claimed
            }
        }
    }

    // A claim's answer and release are fenced by its start alone, not by its instance's number:
    // an instance whose session was made again has a new number, and the requests it was
    // running must still write their answers. A claim taken over has another start (the taker's
    // now, which comes after the owner's session ended).

    public func completeIdempotencyKey(merchantID: String, key: String, claimedAt: Int64, answer: IdempotentAnswer) throws {
        try database.execute(
            "UPDATE idempotency SET status = $1, body = $2, running = 0 WHERE merchant_id = $3 AND key = $4 AND running = 1 AND stored_at = $5",
            [.integer(Int64(answer.status)), .blob(answer.body), .text(merchantID), .text(key), .integer(claimedAt)])
    }

    public func releaseIdempotencyKey(merchantID: String, key: String, claimedAt: Int64) throws {
        try database.execute("DELETE FROM idempotency WHERE merchant_id = $1 AND key = $2 AND running = 1 AND stored_at = $3",
                             [.text(merchantID), .text(key), .integer(claimedAt)])
    }

    // MARK: Outbox

    public func claimDueNotifications(now: Int64, leaseUntil: Int64, limit: Int, share: Int, inFlight: [String: Int]) throws -> [OutboxEntry] {
        // Most passes find nothing due: look first, without a transaction.
        let anything = try database.execute(
            "SELECT 1 FROM outbox WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1 LIMIT 1", [.integer(now)])
        guard !anything.isEmpty else { return [] }
        let skipped = inFlight.filter { $0.value >= share }.keys.sorted()
        // Merchants at their share are left out, in the window too: one merchant's backlog must
        // not fill every window and hide everyone else's webhooks.
        func exclusion(from first: Int) -> String {
            skipped.isEmpty ? "" : "AND merchant_id NOT IN (\(skipped.indices.map { "$\($0 + first)" }.joined(separator: ", ")))"
        }
        // The rules below look only at the oldest due entries, the ones this claim may take: with a
        // backlog (a merchant's endpoint down, deliveries behind the charges) a pass must not
        // examine every due entry; the next pass looks at the next ones.
        func window(from first: Int) -> String {
            """
            id IN (SELECT id FROM outbox WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1 \(exclusion(from: first))
                   ORDER BY next_attempt_at, id LIMIT \(limit * 4))
            """
        }
        let excluded = skipped.map(SQLValue.text)
        return try database.transaction { db in
            // Overtaken entries are given up for good (see SQLiteGatewayStore: same rule).
            try db.execute(
                """
                UPDATE outbox SET gave_up_at = $1, last_result = $2, leased = 0
                WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1 AND \(window(from: 3))
                  AND EXISTS (SELECT 1 FROM outbox AS n WHERE n.merchant_id = outbox.merchant_id AND n.order_id = outbox.order_id
                              AND n.url = outbox.url AND n.id > outbox.id
                              AND (n.delivered_at IS NOT NULL OR (n.leased = 1 AND n.next_attempt_at > $1)))
                """, [.integer(now), .text(SQLiteGatewayStore.overtakenResult)] + excluded)
            // An entry behind an older undelivered one waits for that one's next attempt — also when
            // that attempt is due now, so that it sorts after it and the window moves on (a window
            // full of entries waiting behind due ones outside it would never make progress).
            try db.execute(
                """
                UPDATE outbox SET leased = 0, next_attempt_at = (
                    SELECT MAX(p.next_attempt_at) FROM outbox AS p WHERE p.merchant_id = outbox.merchant_id
                      AND p.order_id = outbox.order_id AND p.url = outbox.url AND p.id < outbox.id
                      AND p.delivered_at IS NULL AND p.gave_up_at IS NULL)
                WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1 AND \(window(from: 2))
                  AND EXISTS (SELECT 1 FROM outbox AS p WHERE p.merchant_id = outbox.merchant_id AND p.order_id = outbox.order_id
                              AND p.url = outbox.url AND p.id < outbox.id AND p.delivered_at IS NULL AND p.gave_up_at IS NULL
                              AND p.next_attempt_at > outbox.next_attempt_at)
                """, [.integer(now)] + excluded)
            // Due, the oldest undelivered of its order and URL, and not being claimed by another
            // instance right now (SKIP LOCKED: taken by nobody else, waited for by nobody).
            let candidates = try db.execute(
                """
                SELECT \(TransactionRow.outboxColumns) FROM outbox AS o
                WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1 \(exclusion(from: 3)) AND o.\(window(from: 3))
                  AND NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.merchant_id = o.merchant_id AND p.order_id = o.order_id
                                  AND p.url = o.url AND p.id < o.id AND p.delivered_at IS NULL AND p.gave_up_at IS NULL)
                ORDER BY next_attempt_at, id LIMIT $2
                FOR UPDATE SKIP LOCKED
                """, [.integer(now), .integer(Int64(limit) * 4)] + excluded
            ).map(TransactionRow.decodeOutbox)
            var taken: [OutboxEntry] = []
            var busy = inFlight
            for entry in candidates where taken.count < limit && busy[entry.merchantID, default: 0] < share {
                busy[entry.merchantID, default: 0] += 1
                try db.execute("UPDATE outbox SET next_attempt_at = $1, leased = 1 WHERE id = $2", [.integer(leaseUntil), .integer(entry.id)])
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

    /// `AND (no lease is asked for, or it is still the entry's)`, the lease being parameter `$n`.
    private static func fence(_ n: Int) -> String { "AND ($\(n)::bigint IS NULL OR (leased = 1 AND next_attempt_at = $\(n)))" }

    public func markDelivered(id: Int64, at: Int64, result: String, lease: Int64?) throws {
        try database.transaction { db in
            try db.execute("UPDATE outbox SET delivered_at = $1, last_result = $2, leased = 0 WHERE id = $3 \(Self.fence(4))",
                           [.integer(at), .text(result), .integer(id), lease.map(SQLValue.integer) ?? .null])
            if db.changes > 0 { try Self.releaseSuccessor(db, of: id, at: at) }
        }
    }

    public func markFailed(id: Int64, attempts: Int, nextAttemptAt: Int64?, at: Int64, result: String, lease: Int64?) throws {
        let fence = lease.map(SQLValue.integer) ?? .null
        if let nextAttemptAt {
            try database.execute("UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_result = $3, leased = 0 WHERE id = $4 \(Self.fence(5))",
                                 [.integer(Int64(attempts)), .integer(nextAttemptAt), .text(result), .integer(id), fence])
        } else {
            try database.transaction { db in
                try db.execute("UPDATE outbox SET attempts = $1, gave_up_at = $2, last_result = $3, leased = 0 WHERE id = $4 \(Self.fence(5))",
                               [.integer(Int64(attempts)), .integer(at), .text(result), .integer(id), fence])
                if db.changes > 0 { try Self.releaseSuccessor(db, of: id, at: at) }
            }
        }
    }

    /// The entry `id` is settled: the next undelivered one of its order and URL is due now.
    private static func releaseSuccessor(_ db: PostgresConnection, of id: Int64, at: Int64) throws {
        try db.execute(
            """
            UPDATE outbox SET next_attempt_at = LEAST(next_attempt_at, $2) WHERE leased = 0 AND id = (
                SELECT n.id FROM outbox AS n JOIN outbox AS d ON d.id = $1
                WHERE n.merchant_id = d.merchant_id AND n.order_id = d.order_id AND n.url = d.url AND n.id > d.id
                  AND n.delivered_at IS NULL AND n.gave_up_at IS NULL
                ORDER BY n.id LIMIT 1)
            """, [.integer(id), .integer(at)])
    }

    public func resendNotifications(merchantID: String, orderID: String?, now: Int64) throws -> Int {
        try database.transaction { db in
            try db.execute(
                """
                UPDATE outbox SET next_attempt_at = $1, gave_up_at = NULL WHERE merchant_id = $2 AND ($3::text IS NULL OR order_id = $3)
                  AND delivered_at IS NULL AND NOT (leased = 1 AND next_attempt_at > $1)
                  AND NOT (gave_up_at IS NOT NULL AND EXISTS (
                      SELECT 1 FROM outbox AS n WHERE n.merchant_id = outbox.merchant_id AND n.order_id = outbox.order_id
                      AND n.url = outbox.url AND n.id > outbox.id AND n.delivered_at IS NOT NULL))
                """,
                [.integer(now), .text(merchantID), orderID.map(SQLValue.text) ?? .null])
            return db.changes
        }
    }

    public func notifications(merchantID: String, orderID: String?, newest: Int?) throws -> [OutboxEntry] {
        let order = orderID == nil ? "" : "AND order_id = $3"
        let newestFirst = try database.execute(
            "SELECT \(TransactionRow.outboxColumns) FROM outbox WHERE merchant_id = $1 \(order) ORDER BY id DESC LIMIT $2",
            [.text(merchantID), newest.map { .integer(Int64($0)) } ?? .null] + (orderID.map { [SQLValue.text($0)] } ?? []))
        return newestFirst.reversed().map(TransactionRow.decodeOutbox)
    }
}
#endif
