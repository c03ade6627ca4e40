import Foundation
import NetLabTestSupport
import Testing

@testable import PaymentFlow

/// The store's contract: its atomic steps, on each engine (SQLite in a file of its own,
/// PostgreSQL in a database of its own). The store persists; it decides nothing — these tests
/// hand it what the gateway would.
@Suite("Gateway store", .timeLimit(.minutes(3)))
struct GatewayStoreTests {
    static func withStore(_ engine: StoreEngine, pendingWebhookLimit: Int = SQLiteGatewayStore.defaultPendingWebhookLimit,
                          _ body: (any GatewayStore) throws -> Void) throws {
        let stores = try TestStores.make(engine, pendingWebhookLimit: pendingWebhookLimit)
        defer { stores.remove() }
        let store = stores.store
        try store.saveMerchant(MerchantAccount(merchantID: "M", serverKey: "SB-Mid-server-m", clientKey: "SB-Mid-client-m",
                                               notificationURL: "https://127.0.0.1:9/notifications"))
        try body(store)
    }

    static func charge(_ id: String, order: String) -> GatewayTransaction {
        GatewayTransaction(transactionID: id, orderID: order, merchantID: "M", paymentType: .creditCard,
                           state: .reserved(grossAmount: Rupiah(10000), isCard: true), transactionTime: "2026-11-25 10:00:00")
    }

    static func draft(_ status: TransactionStatus, _ body: String) -> WebhookDraft {
        WebhookDraft(url: "https://127.0.0.1:9/notifications", transactionStatus: status, body: Array(body.utf8), dueAt: 0)
    }

    @Test("a change and its webhooks are one commit; a change that throws writes neither", arguments: StoreEngine.available)
    func changeWithWebhooks(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            try Self.withStore(engine) { store in
                #expect(try store.reserve(Self.charge("t-1", order: "o-1")))
                struct Refused: Error {}
                #expect(throws: Refused.self) {
                    try store.update(merchantID: "M", id: "t-1") { transaction, webhooks in
                        transaction.announced = true
                        webhooks.append(Self.draft(.pending, "lost"))
                        throw Refused()
                    }
                }
                #expect(try store.find(merchantID: "M", id: "t-1")?.announced == false)
                #expect(try store.notifications(merchantID: "M", orderID: "o-1").isEmpty)
                try store.update(merchantID: "M", id: "o-1") { transaction, webhooks in
                    transaction.announced = true
                    webhooks.append(Self.draft(.pending, "kept"))
                }
                #expect(try store.notifications(merchantID: "M", orderID: "o-1").map { String(decoding: $0.body, as: UTF8.self) } == ["kept"])
            }
        }
    }

    @Test("the charge saga's step is stored: in-flight steps are found after a crash, a waiting OTP is not", arguments: StoreEngine.available)
    func chargesInFlight(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            try Self.withStore(engine) { store in
                for (id, step) in [("t-1", ChargeSaga.authorizing(fraud: .challenge)), ("t-2", .awaitingAuthentication(fraud: .accept)),
                                   ("t-3", .verifyingAuthentication(fraud: .accept)), ("t-4", .openingAccount), ("t-5", .finished)] {
                    var charge = Self.charge(id, order: "o-\(id)")
                    charge.charge = step
                    #expect(try store.reserve(charge))
                }
                let found = try store.chargesInFlight()
                #expect(Set(found.map(\.transactionID)) == ["t-1", "t-3", "t-4"])
                #expect(found.first { $0.transactionID == "t-1" }?.charge == .authorizing(fraud: .challenge), "the pending verdict survives")
            }
        }
    }

    @Test("an order id with a NUL byte is stored whole (SQLite) or refused (PostgreSQL's text holds none): two ids that share a prefix never become one",
          arguments: StoreEngine.available)
    func nulBytes(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            try Self.withStore(engine) { (store: any GatewayStore) throws in
                let (a, b) = ("o-1" + String(UnicodeScalar(0)) + "a", "o-1" + String(UnicodeScalar(0)) + "b")
                guard engine == .sqlite else {
                    #expect(throws: PostgresError.self) { try store.reserve(Self.charge("t-1", order: a)) }
                    #expect(try store.find(merchantID: "M", id: "o-1") == nil)
                    return
                }
                #expect(try store.reserve(Self.charge("t-1", order: a)))
                #expect(try store.reserve(Self.charge("t-2", order: b)), "a different id, not a duplicate")
                #expect(try store.find(merchantID: "M", id: b)?.transactionID == "t-2")
                #expect(try store.find(merchantID: "M", id: "o-1") == nil)
            }
        }
    }

    @Test("an Idempotency-Key is claimed once, bound to its request, replayed when answered, freed when it failed", arguments: StoreEngine.available)
    func idempotency(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            try Self.withStore(engine) { store in
                func claim(_ fingerprint: String, at now: Int64 = 1_000) throws -> IdempotencyClaim {
                    try store.claimIdempotencyKey(merchantID: "M", key: "k", fingerprint: fingerprint, now: now, lifetime: 300_000)
                }
                #expect(try claim("A") == .claimed)
                #expect(try claim("A") == .running, "the first request still runs")
                #expect(try claim("B") == .boundToAnotherRequest)
                let answer = IdempotentAnswer(status: 200, body: Array("{}".utf8), storedAt: 1_000)
                try store.completeIdempotencyKey(merchantID: "M", key: "k", claimedAt: 999, answer: answer)
                #expect(try claim("A") == .running, "only the request that claimed the key completes it")
                try store.completeIdempotencyKey(merchantID: "M", key: "k", claimedAt: 1_000, answer: answer)
                #expect(try claim("A") == .replay(answer))
                #expect(try claim("B") == .boundToAnotherRequest)
                #expect(try claim("B", at: 1_000 + 300_000) == .claimed, "after its lifetime the key is new again")
                try store.releaseIdempotencyKey(merchantID: "M", key: "k", claimedAt: 1_000)
                #expect(try claim("C", at: 301_001) == .boundToAnotherRequest, "a stale owner cannot free another request's claim")
                try store.releaseIdempotencyKey(merchantID: "M", key: "k", claimedAt: 301_000)
                #expect(try claim("C", at: 400_000) == .claimed, "a failed request frees the key")
            }
        }
    }

    @Test("a claim still running when its gateway is gone gives way to the next request with its key; while it lives, the key answers running",
          arguments: StoreEngine.available)
    func abandonedIdempotencyClaim(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            let first = try TestStores.make(engine, instance: true)
            defer { first.remove() }
            // PostgreSQL: a second live instance; SQLite: the gateway after a restart.
            let second = try first.another(instance: true)
            defer { second.remove() }
            func claim(_ stores: TestStores, _ fingerprint: String, at now: Int64) throws -> IdempotencyClaim {
                try stores.store.claimIdempotencyKey(merchantID: "M", key: "k", fingerprint: fingerprint, now: now, lifetime: 300_000)
            }
            #expect(try claim(first, "A", at: 1_000) == .claimed)
            if engine == .postgres {
                #expect(try claim(second, "A", at: 2_000) == .running, "its instance lives: the first request still runs there")
                #if NETLAB_POSTGRES
                (first.store as? PostgresGatewayStore)?.instance?.stop()  // as a killed instance's session ends
                #endif
            }
            #expect(try claim(second, "A", at: 3_000) == .claimed, "the claim's gateway is gone: it will never answer")
            let answer = IdempotentAnswer(status: 200, body: Array("{\"first\":true}".utf8), storedAt: 1_000)
            try first.store.completeIdempotencyKey(merchantID: "M", key: "k", claimedAt: 1_000, answer: answer)
            try first.store.releaseIdempotencyKey(merchantID: "M", key: "k", claimedAt: 1_000)
            #expect(try claim(second, "A", at: 4_000) == .running, "the claim taken over is the second's: the first writes nothing over it")
            let replayed = IdempotentAnswer(status: 200, body: Array("{\"second\":true}".utf8), storedAt: 3_000)
            try second.store.completeIdempotencyKey(merchantID: "M", key: "k", claimedAt: 3_000, answer: replayed)
            #expect(try claim(second, "A", at: 5_000) == .replay(replayed))
            #expect(try claim(second, "B", at: 5_000) == .boundToAnotherRequest, "answered, the key is bound again")
        }
    }

    @Test("the outbox hands out an order's webhooks in order: a newer one waits while an older one is undelivered", arguments: StoreEngine.available)
    func outboxOrdering(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            try Self.withStore(engine) { store in
                #expect(try store.reserve(Self.charge("t-1", order: "o-1")))
                #expect(try store.reserve(Self.charge("t-2", order: "o-2")))
                try store.update(merchantID: "M", id: "t-1") { _, webhooks in webhooks.append(Self.draft(.pending, "1-pending")) }
                try store.update(merchantID: "M", id: "t-1") { _, webhooks in webhooks.append(Self.draft(.settlement, "1-settlement")) }
                try store.update(merchantID: "M", id: "t-2") { _, webhooks in webhooks.append(Self.draft(.pending, "2-pending")) }
                func claim(now: Int64 = 10) throws -> [String] {
                    try store.claimDueNotifications(now: now, leaseUntil: now + 1_000, limit: 10, share: 10, inFlight: [:]).map { String(decoding: $0.body, as: UTF8.self) }
                }
                #expect(try claim() == ["1-pending", "2-pending"])
                // 1-pending is leased (in flight): its successor still waits.
                #expect(try claim() == [])
                let first = try #require(try store.notifications(merchantID: "M", orderID: "o-1").first)
                try store.markFailed(id: first.id, attempts: 1, nextAttemptAt: 20, at: 10, result: "503")
                #expect(try claim(now: 15) == [], "a failed older one still blocks the newer one until it is retried")
                #expect(try claim(now: 20) == ["1-pending"])
                try store.markDelivered(id: first.id, at: 21, result: "200")
                #expect(try claim(now: 21) == ["1-settlement"])
                // A merchant at its share is not considered at all; below it, it gets what is left of it.
                try store.update(merchantID: "M", id: "t-2") { _, webhooks in webhooks.append(Self.draft(.expire, "2-expire")) }
                #expect(try store.claimDueNotifications(now: 2_000, leaseUntil: 3_000, limit: 10, share: 4, inFlight: ["M": 4]).isEmpty)
                #expect(try store.claimDueNotifications(now: 2_000, leaseUntil: 3_000, limit: 10, share: 4, inFlight: ["M": 3]).count == 1)
                #expect(try claim(now: 3_000) == ["1-settlement", "2-pending"], "the leases ran out; 2-expire still waits behind 2-pending")
            }
        }
    }

    @Test("a merchant's outbox holds at most its limit of undelivered webhooks: the next is given up at once, as \"outbox full\"", arguments: StoreEngine.available)
    func outboxLimit(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            try Self.withStore(engine, pendingWebhookLimit: 2) { store in
                for n in 1...3 {
                    #expect(try store.reserve(Self.charge("t-\(n)", order: "o-\(n)")))
                    try store.update(merchantID: "M", id: "t-\(n)") { _, webhooks in webhooks.append(Self.draft(.pending, "\(n)")) }
                }
                let third = try #require(try store.notifications(merchantID: "M", orderID: "o-3").first)
                #expect(third.gaveUpAt != nil && third.lastResult == SQLiteGatewayStore.outboxFullResult)
                #expect(try store.notifications(merchantID: "M", orderID: nil).filter { $0.gaveUpAt == nil }.count == 2)
                // Another merchant has its own limit.
                try store.saveMerchant(MerchantAccount(merchantID: "N", serverKey: "SB-Mid-server-n", clientKey: "SB-Mid-client-n",
                                                       notificationURL: "https://127.0.0.1:9/notifications"))
                var other = Self.charge("t-n", order: "o-n")
                other.merchantID = "N"
                #expect(try store.reserve(other))
                try store.update(merchantID: "N", id: "t-n") { _, webhooks in webhooks.append(Self.draft(.pending, "n")) }
                #expect(try store.notifications(merchantID: "N", orderID: "o-n").first?.gaveUpAt == nil)
                // A delivery frees a place: the next status change waits in the outbox again.
                let first = try #require(try store.notifications(merchantID: "M", orderID: "o-1").first)
                try store.markDelivered(id: first.id, at: 5, result: "200")
                try store.update(merchantID: "M", id: "t-1") { _, webhooks in webhooks.append(Self.draft(.settlement, "1-settlement")) }
                #expect(try store.notifications(merchantID: "M", orderID: "o-1").last?.gaveUpAt == nil)
                // The merchant's resend asks for the one given up.
                #expect(try store.resendNotifications(merchantID: "M", orderID: "o-3", now: 10) == 1)
                let due = try store.claimDueNotifications(now: 10, leaseUntil: 100, limit: 10, share: 10, inFlight: [:])
                #expect(due.map(\.orderID).sorted() == ["o-1", "o-2", "o-3", "o-n"])
                // The history without an order lists the newest entries, oldest first.
                #expect(try store.notifications(merchantID: "M", orderID: nil, newest: 2).map(\.transactionStatus) == ["pending", "settlement"])
            }
        }
    }

    @Test("a webhook behind an undelivered older one waits for that one's next attempt, and is due as soon as it is settled", arguments: StoreEngine.available)
    func waitingWebhooks(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            try Self.withStore(engine) { store in
                #expect(try store.reserve(Self.charge("t-1", order: "o-1")))
                try store.update(merchantID: "M", id: "t-1") { _, webhooks in webhooks.append(Self.draft(.pending, "pending")) }
                try store.update(merchantID: "M", id: "t-1") { _, webhooks in webhooks.append(Self.draft(.settlement, "settlement")) }
                try store.update(merchantID: "M", id: "t-1") { _, webhooks in webhooks.append(Self.draft(.refund, "refund")) }
                func entries() throws -> [OutboxEntry] { try store.notifications(merchantID: "M", orderID: "o-1") }
                func claim(now: Int64) throws -> [String] {
                    try store.claimDueNotifications(now: now, leaseUntil: now + 1_000, limit: 10, share: 10, inFlight: [:])
                        .map { String(decoding: $0.body, as: UTF8.self) }
                }
                #expect(try claim(now: 10) == ["pending"])
                try store.markFailed(id: try entries()[0].id, attempts: 1, nextAttemptAt: 500, at: 20, result: "503")
                // The next pass sets the two behind it to wait for its retry: later passes skip them.
                #expect(try claim(now: 30) == [])
                #expect(try entries().map(\.nextAttemptAt) == [500, 500, 500])
                #expect(try claim(now: 500) == ["pending"])
                try store.markDelivered(id: try entries()[0].id, at: 510, result: "200")
                // Delivered: the next in line is due at once; the last still waits behind it.
                #expect(try entries()[1].nextAttemptAt <= 510)
                #expect(try claim(now: 510) == ["settlement"])
                try store.markFailed(id: try entries()[1].id, attempts: 5, nextAttemptAt: nil, at: 520, result: "404")
                #expect(try claim(now: 520) == ["refund"], "given up: the next in line is due at once")
            }
        }
    }

    @Test("a given-up webhook resent while a newer one of its order is out is overtaken: given up for good, never sent after it", arguments: StoreEngine.available)
    func overtakenByNewer(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            try Self.withStore(engine, pendingWebhookLimit: 1) { store in
                #expect(try store.reserve(Self.charge("t-0", order: "o-0")))
                #expect(try store.reserve(Self.charge("t-1", order: "o-1")))
                try store.update(merchantID: "M", id: "t-0") { _, webhooks in webhooks.append(Self.draft(.pending, "0-pending")) }
                try store.update(merchantID: "M", id: "t-1") { _, webhooks in webhooks.append(Self.draft(.pending, "1-pending")) }
                let older = try #require(try store.notifications(merchantID: "M", orderID: "o-1").first)
                #expect(older.lastResult == SQLiteGatewayStore.outboxFullResult)
                try store.markDelivered(id: try #require(try store.notifications(merchantID: "M", orderID: "o-0").first).id, at: 1, result: "200")
                try store.update(merchantID: "M", id: "t-1") { _, webhooks in webhooks.append(Self.draft(.settlement, "1-settlement")) }
                func claim(now: Int64) throws -> [String] {
                    try store.claimDueNotifications(now: now, leaseUntil: now + 1_000, limit: 10, share: 10, inFlight: [:])
                        .map { String(decoding: $0.body, as: UTF8.self) }
                }
                #expect(try claim(now: 10) == ["1-settlement"])
                // While 1-settlement is out, the merchant asks for a resend: 1-pending is due again…
                #expect(try store.resendNotifications(merchantID: "M", orderID: "o-1", now: 20) == 1)
                // …but never goes out after the newer status.
                #expect(try claim(now: 20) == [])
                let entries = try store.notifications(merchantID: "M", orderID: "o-1")
                #expect(entries.first?.gaveUpAt != nil && entries.first?.lastResult == SQLiteGatewayStore.overtakenResult)
            }
        }
    }

    @Test("resend makes failed and given-up webhooks due now, but never one a deliverer holds (it would arrive twice)", arguments: StoreEngine.available)
    func resendSkipsLeased(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            try Self.withStore(engine) { store in
                for n in 1...3 {
                    #expect(try store.reserve(Self.charge("t-\(n)", order: "o-\(n)")))
                    try store.update(merchantID: "M", id: "t-\(n)") { _, webhooks in webhooks.append(Self.draft(.pending, "\(n)")) }
                }
                let taken = try store.claimDueNotifications(now: 10, leaseUntil: 10_000, limit: 10, share: 10, inFlight: [:])
                try store.markFailed(id: taken[0].id, attempts: 1, nextAttemptAt: 5_000, at: 10, result: "503")
                try store.markFailed(id: taken[1].id, attempts: 5, nextAttemptAt: nil, at: 10, result: "404")
                // taken[2] is still being delivered.
                #expect(try store.resendNotifications(merchantID: "M", orderID: nil, now: 20) == 2)
                let due = try store.claimDueNotifications(now: 20, leaseUntil: 10_000, limit: 10, share: 10, inFlight: [:])
                #expect(due.map(\.orderID).sorted() == ["o-1", "o-2"])
                // A given-up older status a newer one of its order has overtaken is not resent.
                #expect(try store.reserve(Self.charge("t-9", order: "o-9")))
                try store.update(merchantID: "M", id: "t-9") { _, webhooks in webhooks.append(Self.draft(.pending, "9-pending")) }
                try store.update(merchantID: "M", id: "t-9") { _, webhooks in webhooks.append(Self.draft(.settlement, "9-settlement")) }
                let older = try #require(try store.notifications(merchantID: "M", orderID: "o-9").first)
                let newer = try #require(try store.notifications(merchantID: "M", orderID: "o-9").last)
                try store.markFailed(id: older.id, attempts: 3, nextAttemptAt: nil, at: 30, result: "404")
                try store.markDelivered(id: newer.id, at: 31, result: "200")
                #expect(try store.resendNotifications(merchantID: "M", orderID: "o-9", now: 40) == 0)
            }
        }
    }

    @Test("a merchant at its share with a backlog larger than a claim looks at does not hide another merchant's webhook", arguments: StoreEngine.available)
    func fairnessPastTheWindow(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            try Self.withStore(engine) { store in
                try store.saveMerchant(MerchantAccount(merchantID: "N", serverKey: "SB-Mid-server-n", clientKey: "SB-Mid-client-n"))
                // M: 60 due webhooks, older than N's one (a claim of 4 looks at 16 at most).
                for n in 1...60 {
                    #expect(try store.reserve(Self.charge("m-\(n)", order: "mo-\(n)")))
                    try store.update(merchantID: "M", id: "m-\(n)") { _, webhooks in webhooks.append(Self.draft(.settlement, "m-\(n)")) }
                }
                var other = Self.charge("n-1", order: "no-1")
                other.merchantID = "N"
                #expect(try store.reserve(other))
                try store.update(merchantID: "N", id: "n-1") { _, webhooks in
                    var draft = Self.draft(.settlement, "n-1")
                    draft.dueAt = 5
                    webhooks.append(draft)
                }
                // M's deliveries are at their share: N's webhook is handed out all the same.
                let taken = try store.claimDueNotifications(now: 10, leaseUntil: 1_000, limit: 4, share: 2, inFlight: ["M": 2])
                #expect(taken.map { String(decoding: $0.body, as: UTF8.self) } == ["n-1"])
            }
        }
    }

    @Test("a deliverer whose lease ran out, its entry claimed again by another, cannot write its outcome over the new one's", arguments: StoreEngine.available)
    func leaseFencesTheOutcome(engine: StoreEngine) async throws {
        try await BlockingWork.run {
            try Self.withStore(engine) { store in
                #expect(try store.reserve(Self.charge("t-1", order: "o-1")))
                try store.update(merchantID: "M", id: "t-1") { _, webhooks in webhooks.append(Self.draft(.settlement, "w")) }
                let first = try #require(try store.claimDueNotifications(now: 10, leaseUntil: 100, limit: 1, share: 1, inFlight: [:]).first)
                #expect(first.nextAttemptAt == 100, "the entry comes back with its lease")
                // The first deliverer stalls past its lease; a second claims the entry.
                let second = try #require(try store.claimDueNotifications(now: 200, leaseUntil: 1_000, limit: 1, share: 1, inFlight: [:]).first)
                #expect(second.id == first.id && second.nextAttemptAt == 1_000)
                try store.markDelivered(id: first.id, at: 300, result: "200", lease: first.nextAttemptAt)
                #expect(try store.notifications(merchantID: "M", orderID: "o-1").first?.deliveredAt == nil, "the stale lease records nothing")
                try store.markFailed(id: second.id, attempts: 1, nextAttemptAt: 5_000, at: 310, result: "503", lease: second.nextAttemptAt)
                let entry = try #require(try store.notifications(merchantID: "M", orderID: "o-1").first)
                #expect(entry.lastResult == "503" && entry.nextAttemptAt == 5_000, "the holder's outcome stands")
            }
        }
    }

    @Test("an old file gains the new columns; a charge the old version left unanswered counts as in flight, a key it left running gives way")
    func migration() async throws {
        try await BlockingWork.run {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-store-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let old = try SQLiteDatabase(path: directory + "/gateway.sqlite")
            try old.execute("""
                CREATE TABLE transactions (transaction_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, order_id TEXT NOT NULL,
                payment_type TEXT NOT NULL, status TEXT NOT NULL, fraud_status TEXT, gross_amount INTEGER NOT NULL,
                refunded INTEGER NOT NULL DEFAULT 0, is_card INTEGER NOT NULL, transaction_time TEXT NOT NULL, bank TEXT, va_number TEXT,
                masked_card TEXT, approval_code TEXT, expiry_time TEXT, override_urls TEXT, append_urls TEXT NOT NULL DEFAULT '[]',
                extra TEXT NOT NULL DEFAULT '{}', authentication_id TEXT, announced INTEGER NOT NULL DEFAULT 0)
                """)
            try old.execute("""
                INSERT INTO transactions (transaction_id, merchant_id, order_id, payment_type, status, gross_amount, is_card, transaction_time)
                VALUES ('t-old', 'M', 'o-old', 'credit_card', 'pending', 5000, 1, '2026-01-01 00:00:00')
                """)
            // A key the old version left running (it stopped mid-request): no run owns it.
            try old.execute("""
                CREATE TABLE idempotency (merchant_id TEXT NOT NULL, key TEXT NOT NULL, status INTEGER NOT NULL, body BLOB NOT NULL,
                stored_at INTEGER NOT NULL, fingerprint TEXT NOT NULL DEFAULT '', running INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (merchant_id, key))
                """)
            try old.execute("INSERT INTO idempotency VALUES ('M', 'k-old', 0, x'', 1000, 'A', 1)")
            let store = try SQLiteGatewayStore(path: directory + "/gateway.sqlite")
            #expect(try store.chargesInFlight().map(\.transactionID) == ["t-old"])
            #expect(try store.claimIdempotencyKey(merchantID: "M", key: "k-old", fingerprint: "A", now: 2_000, lifetime: 300_000) == .claimed,
                    "a claim the old version left running gives way")
        }
    }
}

@Suite("Charge saga", .timeLimit(.minutes(3)))
struct ChargeSagaTests {
    @Test("each step's next action", arguments: [
        (ChargeSaga.reserved, ChargeSaga.Event.begin(isCard: true), ChargeSaga.assessingFraud, ChargeSaga.Action.assessFraud),
        (.reserved, .begin(isCard: false), .openingAccount, .openAccount),
        (.assessingFraud, .fraudVerdict(.accept), .authorizing(fraud: .accept), .authorizeCard),
        (.assessingFraud, .fraudVerdict(.challenge), .authorizing(fraud: .challenge), .authorizeCard),
        (.assessingFraud, .fraudVerdict(.deny), .finished, .record(.declined(fraud: .deny))),
        (.assessingFraud, .noAnswer, .finished, .record(.abandon)),
        (.authorizing(fraud: .challenge), .bankAnswered(.approved), .finished, .record(.authorized(fraud: .challenge))),
        (.authorizing(fraud: .accept), .bankAnswered(.denied), .finished, .record(.declined(fraud: .accept))),
        (.authorizing(fraud: .challenge), .bankAnswered(.authenticationRequired), .awaitingAuthentication(fraud: .challenge), .record(.awaitAuthentication)),
        (.authorizing(fraud: .accept), .noAnswer, .finished, .record(.abandon)),
        (.awaitingAuthentication(fraud: .challenge), .otpSubmitted, .verifyingAuthentication(fraud: .challenge), .verifyOTP),
        (.verifyingAuthentication(fraud: .challenge), .bankAnswered(.approved), .finished, .record(.authorized(fraud: .challenge))),
        (.verifyingAuthentication(fraud: .accept), .bankAnswered(.denied), .finished, .record(.declined(fraud: .accept))),
        (.verifyingAuthentication(fraud: .accept), .noAnswer, .finished, .record(.abandon)),
        (.openingAccount, .accountOpened, .finished, .record(.awaitPayment)),
        (.openingAccount, .noAnswer, .finished, .record(.abandon)),
        // Lost a race: whatever the bank did is reversed.
        (.authorizing(fraud: .accept), .outcomeRefused, .finished, .reverse),
        (.verifyingAuthentication(fraud: .accept), .outcomeRefused, .finished, .reverse),
        (.openingAccount, .outcomeRefused, .finished, .reverse),
        (.finished, .outcomeRefused, .finished, .reverse),  // the outcome was refused right after the last step
    ])
    func next(start: ChargeSaga, event: ChargeSaga.Event, end: ChargeSaga, action: ChargeSaga.Action) {
        var saga = start
        #expect(saga.handle(event) == action)
        #expect(saga == end)
    }

    @Test("what makes no sense in a step is refused and changes nothing", arguments: [
        (ChargeSaga.awaitingAuthentication(fraud: .accept), ChargeSaga.Event.bankAnswered(.approved)),  // no OTP was sent
        (.finished, .otpSubmitted),  // a second OTP
        (.authorizing(fraud: .accept), .otpSubmitted),
        (.reserved, .fraudVerdict(.accept)),
        (.openingAccount, .bankAnswered(.approved)),
    ])
    func refused(start: ChargeSaga, event: ChargeSaga.Event) {
        var saga = start
        #expect(saga.handle(event) == .refuse)
        #expect(saga == start)
    }

    @Test("steps with a call in flight are in doubt after a crash; stored steps read back", arguments: [
        ChargeSaga.reserved, .assessingFraud, .authorizing(fraud: .accept), .awaitingAuthentication(fraud: .challenge),
        .verifyingAuthentication(fraud: .deny), .openingAccount, .finished,
    ])
    func stored(saga: ChargeSaga) {
        let stored = saga.stored
        #expect(ChargeSaga(step: stored.step, fraud: stored.fraud) == saga)
        let waitsForPerson = { if case .awaitingAuthentication = saga { return true } else { return false } }()
        #expect(saga.isInDoubtAfterCrash == !(saga == .finished || waitsForPerson))
    }
}
