#if NETLAB_POSTGRES
import Foundation
import NetLabTestSupport
import Testing
import TCPSocket
import TLSWrapper

@testable import PaymentFlow

/// Several gateway instances on one PostgreSQL database: each race named in docs/SCALING.md,
/// with the interleaving forced where the API allows it (a claim held open on a connection of
/// the test's own) and run concurrently where the database alone decides.
@Suite("Shared store: instances on one PostgreSQL", .timeLimit(.minutes(3)), .enabled(if: TestPostgres.serverURL != nil))
struct SharedStoreTests {
    static func charge(_ id: String, order: String, step: ChargeSaga = .finished) -> GatewayTransaction {
        var t = GatewayStoreTests.charge(id, order: order)
        t.charge = step
        return t
    }

    static func merchant(_ id: String = "M") -> MerchantAccount {
        MerchantAccount(merchantID: id, serverKey: "SB-Mid-server-\(id)", clientKey: "SB-Mid-client-\(id)", notificationURL: "https://127.0.0.1:9/n")
    }

    @Test("two instances reserving one order id at once: exactly one gets it, every round")
    func reserveRace() async throws {
        try await BlockingWork.run {
            let a = try TestStores.make(.postgres), b = try TestStores.open(url: a.url!)
            defer { a.remove(); b.remove() }
            for round in 0..<25 {
                let wins = Locked(0)
                DispatchQueue.concurrentPerform(iterations: 2) { i in
                    let store = i == 0 ? a.store : b.store
                    if (try? store.reserve(Self.charge("t-\(round)-\(i)", order: "o-\(round)"))) == true { wins.withLock { $0 += 1 } }
                }
                #expect(wins.withLock { $0 } == 1, "round \(round)")
            }
        }
    }

    @Test("an outbox entry one instance is claiming is skipped by another, which takes the rest without waiting (FOR UPDATE SKIP LOCKED)")
    func outboxSkipLocked() async throws {
        try await BlockingWork.run {
            let a = try TestStores.make(.postgres), b = try TestStores.open(url: a.url!)
            defer { a.remove(); b.remove() }
            try a.store.saveMerchant(Self.merchant())
            for n in 1...4 {
                #expect(try a.store.reserve(Self.charge("t-\(n)", order: "o-\(n)")))
                try a.store.update(merchantID: "M", id: "t-\(n)") { _, webhooks in
                    webhooks.append(GatewayStoreTests.draft(.settlement, "w-\(n)"))
                }
            }
            // Instance A mid-claim: its transaction holds the first two entries.
            let held = try PostgresConnection(url: a.url!)
            try held.execute("BEGIN")
            let locked = try held.execute("SELECT id FROM outbox ORDER BY id LIMIT 2 FOR UPDATE").compactMap { $0[0].integer }
            let taken = try b.store.claimDueNotifications(now: 10, leaseUntil: 1_000, limit: 10, share: 10, inFlight: [:])
            #expect(Set(taken.map(\.id)).isDisjoint(with: locked), "never an entry another instance holds")
            #expect(taken.map { String(decoding: $0.body, as: UTF8.self) } == ["w-3", "w-4"])
            try held.execute("COMMIT")
            // Released: A's entries are due to whoever claims next; B's are leased.
            let rest = try a.store.claimDueNotifications(now: 20, leaseUntil: 1_000, limit: 10, share: 10, inFlight: [:])
            #expect(rest.map { String(decoding: $0.body, as: UTF8.self) } == ["w-1", "w-2"])
            #expect(try b.store.claimDueNotifications(now: 30, leaseUntil: 1_000, limit: 10, share: 10, inFlight: [:]).isEmpty)
        }
    }

    @Test("three instances claiming at once: every due webhook is handed out exactly once")
    func outboxConcurrentClaims() async throws {
        try await BlockingWork.run {
            let a = try TestStores.make(.postgres)
            let others = [try TestStores.open(url: a.url!), try TestStores.open(url: a.url!)]
            defer { a.remove(); others.forEach { $0.remove() } }
            try a.store.saveMerchant(Self.merchant())
            for n in 1...60 {
                #expect(try a.store.reserve(Self.charge("t-\(n)", order: "o-\(n)")))
                try a.store.update(merchantID: "M", id: "t-\(n)") { _, webhooks in webhooks.append(GatewayStoreTests.draft(.settlement, "w-\(n)")) }
            }
            let stores = [a.store] + others.map(\.store)
            let claimed = Locked<[Int64]>([])
            DispatchQueue.concurrentPerform(iterations: 3) { i in
                while let batch = try? stores[i].claimDueNotifications(now: 10, leaseUntil: 10_000, limit: 4, share: 100, inFlight: [:]), !batch.isEmpty {
                    claimed.withLock { $0 += batch.map(\.id) }
                }
            }
            let ids = claimed.withLock { $0 }
            #expect(ids.count == 60)
            #expect(Set(ids).count == 60, "no entry twice")
        }
    }

    @Test("recovery lists a charge in flight only when the instance running it is gone")
    func recoveryByLiveness() async throws {
        try await BlockingWork.run {
            let a = try TestStores.make(.postgres, instance: true), b = try TestStores.open(url: a.url!, instance: true)
            defer { a.remove(); b.remove() }
            #expect(try a.store.reserve(Self.charge("t-a", order: "o-a", step: .authorizing(fraud: .accept))))
            #expect(try b.store.reserve(Self.charge("t-b", order: "o-b", step: .authorizing(fraud: .accept))))
            #expect(try b.store.chargesInFlight().map(\.transactionID) == ["t-b"], "A's charge runs on A: B leaves it alone")
            #expect(try a.store.chargesInFlight().map(\.transactionID) == ["t-a"])
            // A dies: its session ends (here, the server ends it, as when the process is killed).
            let aNumber = (a.store as! PostgresGatewayStore).instance!.id
            let admin = try PostgresConnection(url: a.url!)
            try admin.execute(
                """
                SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = $1 AND objid::bigint = $2
                    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """, [.integer(Int64(0x4E4C)), .integer(aNumber)])
            try waitUntil { try Set(b.store.chargesInFlight().map(\.transactionID)) == ["t-a", "t-b"] }
            #expect(try Set(b.store.chargesInFlight().map(\.transactionID)) == ["t-a", "t-b"], "A's charge is B's to abandon now")
        }
    }

    @Test("one instance at a time holds the timers' turn; when it stops, another takes it")
    func timerTurn() async throws {
        try await BlockingWork.run {
            let url = try TestPostgres.freshDatabase()
            _ = try PostgresGatewayStore(database: try PostgresDatabase(url: url))
            let a = try PostgresInstance(url: url), b = try PostgresInstance(url: url)
            defer { a.stop(); b.stop() }
            #expect(a.holdsTimerTurn())
            #expect(!b.holdsTimerTurn())
            #expect(a.holdsTimerTurn(), "kept, not taken again")
            a.stop()
            #expect(b.holdsTimerTurn())
            #expect(!a.holdsTimerTurn(), "a stopped instance never runs timers")
        }
    }

    @Test("a merchant saved on one instance drops every instance's cached keys at commit (NOTIFY)")
    func merchantInvalidation() async throws {
        try await BlockingWork.run {
            let a = try TestStores.make(.postgres, instance: true), b = try TestStores.open(url: a.url!, instance: true)
            defer { a.remove(); b.remove() }
            let heard = Locked(0)
            (b.store as! PostgresGatewayStore).instance!.onMerchantsChanged { heard.withLock { $0 += 1 } }
            let directory = MerchantDirectory(store: b.store)
            (b.store as! PostgresGatewayStore).instance!.onMerchantsChanged { directory.invalidate() }
            try a.store.saveMerchant(Self.merchant())
            #expect(try directory.merchant(id: "M")?.serverKey == "SB-Mid-server-M")
            var changed = Self.merchant()
            changed.serverKey = "SB-Mid-server-rotated"
            try a.store.saveMerchant(changed)
            try waitUntil { heard.withLock { $0 } >= 2 }
            #expect(try directory.merchant(id: "M")?.serverKey == "SB-Mid-server-rotated", "no stale key after the news")
            #expect(try a.store.removeMerchant(id: "M"))
            try waitUntil { heard.withLock { $0 } >= 3 }
            #expect(try directory.merchant(id: "M") == nil)
        }
    }

    @Test("a card token made on one instance is spent on another, once; another merchant cannot burn it")
    func sharedCardTokens() async throws {
        try await BlockingWork.run {
            let a = try TestStores.make(.postgres), b = try TestStores.open(url: a.url!)
            defer { a.remove(); b.remove() }
            let key = SealingKey(bytes: Array(repeating: 7, count: 32))!
            let vaultA = CardVault(lifetime: .seconds(600), accounts: a.accounts, key: key, tokens: a.ephemeral)
            let vaultB = CardVault(lifetime: .seconds(600), accounts: b.accounts, key: key, tokens: b.ephemeral)
            let card = StoredCard(number: "4811111111111114", cvv: "123", expiryMonth: "12", expiryYear: "2030")
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let token = try vaultA.store(card, merchantID: "M", now: now)
            #expect(try vaultB.take(token, merchantID: "other", now: now) == nil)
            #expect(try vaultB.take(token, merchantID: "M", now: now) == card)
            #expect(try vaultA.take(token, merchantID: "M", now: now) == nil, "single use across instances")
            let late = try vaultA.store(card, merchantID: "M", now: now)
            #expect(try vaultB.take(late, merchantID: "M", now: now.addingTimeInterval(601)) == nil, "expired")
            // The database holds the card sealed: neither the number nor the CVV in clear.
            let raw = try a.url.map { try PostgresConnection(url: $0).execute("SELECT value FROM ephemeral") } ?? []
            for row in raw { #expect(!String(decoding: row[0].bytes ?? [], as: UTF8.self).contains("4811111111111114")) }
        }
    }

    @Test("one short-lived record changed by two instances at once: exactly one change wins (a Snap page's one payment)")
    func ephemeralClaimRace() async throws {
        try await BlockingWork.run {
            let a = try TestStores.make(.postgres), b = try TestStores.open(url: a.url!)
            defer { a.remove(); b.remove() }
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            for round in 0..<20 {
                try a.ephemeral.put(.snapSession, key: "s-\(round)", value: Array("open".utf8), now: now, expires: now.addingTimeInterval(60))
                let wins = Locked(0)
                DispatchQueue.concurrentPerform(iterations: 2) { i in
                    let store = i == 0 ? a.ephemeral : b.ephemeral
                    let won = try? store.update(.snapSession, key: "s-\(round)", now: now, expires: now) { value -> Bool in
                        guard value == Array("open".utf8) else { return false }
                        value = Array("charging".utf8)
                        return true
                    }
                    if won == true { wins.withLock { $0 += 1 } }
                }
                #expect(wins.withLock { $0 } == 1, "round \(round)")
            }
        }
    }

    @Test("migrations are versioned: applied once, recorded, and several instances starting at once take turns")
    func migrations() async throws {
        try await BlockingWork.run {
            let url = try TestPostgres.freshDatabase()
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 3) { _ in
                do {
                    let database = try PostgresDatabase(url: url, poolSize: 2)
                    _ = try PostgresGatewayStore(database: database)
                    _ = try PostgresAccountStore(database: database)
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            let database = try PostgresDatabase(url: url)
            #expect(try SchemaMigration.applied(component: "gateway", in: database) == [1, 2])
            #expect(try SchemaMigration.applied(component: "accounts", in: database) == [1])
        }
    }

    /// Waits (up to 10 s) for something another session makes true; the verdict is the
    /// expectation after it, never the time it took.
    func waitUntil(_ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while try !condition(), Date() < deadline { usleep(20_000) }
    }
}
#endif
