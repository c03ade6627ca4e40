import Foundation
import TCPSocket

/// What a short-lived record is (each kind its own key space).
public enum EphemeralKind: String, Sendable, CaseIterable {
    /// A card token (`GET /v2/token`): the card, CVV included, sealed; single use.
    case cardToken = "card_token"
    /// A Snap page's session (`POST /snap/v1/transactions`).
    case snapSession = "snap_session"
    /// The Snap page an order has now (merchant and order id → token): a new page replaces it.
    case snapOrder = "snap_order"
}

/// Records that live minutes, not years — card tokens and Snap sessions — shared by every
/// gateway instance that could be asked for them: a token made by the instance that served the
/// browser is spent by whichever instance the merchant's charge reaches.
///
/// One gateway alone keeps them in its memory (``MemoryEphemeralStore``): a restart forgets them
/// and the page makes new ones. Instances sharing PostgreSQL keep them there
/// (``PostgresEphemeralStore``), in an unlogged table. Each call is atomic; an expired record is
/// never returned.
public protocol EphemeralStore: Sendable {
    /// Keeps `value` under `key` until `expires`, replacing what was there (records expired at
    /// `now` may be dropped meanwhile).
    func put(_ kind: EphemeralKind, key: String, value: [UInt8], now: Date, expires: Date) throws
    /// The value under `key`, unless it is missing or expired at `now`.
    func get(_ kind: EphemeralKind, key: String, now: Date) throws -> [UInt8]?
    /// Reads, changes and writes one record atomically: `change` sees nil for a missing or
    /// expired record, and leaves nil to remove it. A value it leaves keeps the record's expiry
    /// (a new record gets `expires`) — or, with `renew`, gets `expires` either way.
    func update<R>(_ kind: EphemeralKind, key: String, now: Date, expires: Date, renew: Bool, _ change: (inout [UInt8]?) throws -> R) throws -> R
    /// How many records of `kind` are unexpired at `now`.
    func count(_ kind: EphemeralKind, now: Date) throws -> Int
}

extension EphemeralStore {
    /// ``update(_:key:now:expires:renew:_:)`` keeping a record's expiry.
    public func update<R>(_ kind: EphemeralKind, key: String, now: Date, expires: Date, _ change: (inout [UInt8]?) throws -> R) throws -> R {
        try update(kind, key: key, now: now, expires: expires, renew: false, change)
    }
}

/// ``EphemeralStore`` in this process's memory: one gateway instance.
public final class MemoryEphemeralStore: EphemeralStore {
    private struct Key: Hashable {
        var kind: EphemeralKind
        var key: String
    }

    private let records = Locked<[Key: (value: [UInt8], expires: Date)]>([:])

    public init() {}

    public func put(_ kind: EphemeralKind, key: String, value: [UInt8], now: Date, expires: Date) {
        records.withLock { records in
            // Forget expired ones as we go.
            records = records.filter { $0.value.expires > now }
            records[Key(kind: kind, key: key)] = (value, expires)
        }
    }

    public func get(_ kind: EphemeralKind, key: String, now: Date) -> [UInt8]? {
        records.withLock { records in records[Key(kind: kind, key: key)].flatMap { $0.expires > now ? $0.value : nil } }
    }

    public func update<R>(_ kind: EphemeralKind, key: String, now: Date, expires: Date, renew: Bool, _ change: (inout [UInt8]?) throws -> R) throws -> R {
        try records.withLock { records in
            let k = Key(kind: kind, key: key)
            let current = records[k].flatMap { $0.expires > now ? $0 : nil }
            var value = current?.value
            let result = try change(&value)
            records[k] = value.map { ($0, renew ? expires : current?.expires ?? expires) }
            return result
        }
    }

    public func count(_ kind: EphemeralKind, now: Date) -> Int {
        records.withLock { records in records.count { $0.key.kind == kind && $0.value.expires > now } }
    }
}
