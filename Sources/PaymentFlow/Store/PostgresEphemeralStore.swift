#if NETLAB_POSTGRES
import Foundation
import TCPSocket

/// ``EphemeralStore`` in PostgreSQL's unlogged `ephemeral` table (made by
/// ``PostgresGatewayStore``'s schema), shared by every instance. An update serializes on its
/// key with a transaction advisory lock — a row lock cannot hold a key that has no row yet, and
/// two instances creating one record at once must take turns too. Expired records are deleted
/// as new ones are put, at most once a second per instance.
public final class PostgresEphemeralStore: EphemeralStore {
    public let database: PostgresDatabase
    private let lastPurge = Locked<Date?>(nil)

    public init(database: PostgresDatabase) {
        self.database = database
    }

    public func put(_ kind: EphemeralKind, key: String, value: [UInt8], now: Date, expires: Date) throws {
        let purge = lastPurge.withLock { last -> Bool in
            guard last.map({ now.timeIntervalSince($0) >= 1 || now < $0 }) ?? true else { return false }
            last = now
            return true
        }
        if purge { try database.execute("DELETE FROM ephemeral WHERE expires_at <= $1", [.integer(Timestamp.millis(now))]) }
        try database.execute(
            """
            INSERT INTO ephemeral (kind, key, value, expires_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
            """, [.text(kind.rawValue), .text(key), .blob(value), .integer(Timestamp.millis(expires))])
    }

    public func get(_ kind: EphemeralKind, key: String, now: Date) throws -> [UInt8]? {
        try database.execute("SELECT value FROM ephemeral WHERE kind = $1 AND key = $2 AND expires_at > $3",
                             [.text(kind.rawValue), .text(key), .integer(Timestamp.millis(now))]).first?[0].bytes
    }

    public func update<R>(_ kind: EphemeralKind, key: String, now: Date, expires: Date, renew: Bool, _ change: (inout [UInt8]?) throws -> R) throws -> R {
        try database.transaction { db in
            try db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [.text(kind.rawValue + "|" + key)])
            let row = try db.execute("SELECT value, expires_at FROM ephemeral WHERE kind = $1 AND key = $2", [.text(kind.rawValue), .text(key)]).first
            let live = row.flatMap { ($0[1].integer ?? 0) > Timestamp.millis(now) ? $0 : nil }
            var value = live?[0].bytes
            let before = value
            let result = try change(&value)
            if let value {
                guard value != before || renew else { return result }
                let keep = renew ? Timestamp.millis(expires) : live?[1].integer ?? Timestamp.millis(expires)
                try db.execute(
                    """
                    INSERT INTO ephemeral (kind, key, value, expires_at) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
                    """, [.text(kind.rawValue), .text(key), .blob(value), .integer(keep)])
            } else if row != nil {
                try db.execute("DELETE FROM ephemeral WHERE kind = $1 AND key = $2", [.text(kind.rawValue), .text(key)])
            }
            return result
        }
    }

    public func count(_ kind: EphemeralKind, now: Date) throws -> Int {
        Int(try database.execute("SELECT COUNT(*) FROM ephemeral WHERE kind = $1 AND expires_at > $2",
                                 [.text(kind.rawValue), .integer(Timestamp.millis(now))]).first?[0].integer ?? 0)
    }
}
#endif
