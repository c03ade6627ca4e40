import Foundation

// Where the gateway keeps what must survive a restart, as four small protocols: a student's
// store, a test's or an observing decorator implements only what its part needs, and the
// gateway's parts each take the one they use. The store persists; it decides nothing — what a
// change means (is it news? which webhooks? does the bank owe a reversal?) is the gateway's.

/// The merchants: keys and notification URLs.
public protocol MerchantStore: Sendable {
    func merchants() throws -> [MerchantAccount]
    /// Adds the merchant, or replaces the one with the same merchant id.
    func saveMerchant(_ merchant: MerchantAccount) throws
    /// Removes the merchant; false if there was none.
    func removeMerchant(id: String) throws -> Bool
}

/// The transactions, with the transactional outbox's writing half.
///
/// The contract that makes webhooks reliable: ``update(merchantID:id:_:)`` writes the changed
/// transaction *and* the webhooks the change produced in one atomic step, so a crash can never
/// leave a changed payment without its webhook, nor a webhook for a change that was lost.
public protocol TransactionStore: Sendable {
    /// The transaction with this transaction id or order id (the latest for a reused order id).
    func find(merchantID: String, id: String) throws -> GatewayTransaction?
    /// Every transaction made under `orderID`, latest first.
    func transactions(merchantID: String, orderID: String) throws -> [GatewayTransaction]
    /// The merchant's latest `limit` transactions, latest first (the instructor's class view).
    func recentTransactions(merchantID: String, limit: Int) throws -> [GatewayTransaction]
    /// The transaction paid through this VA number, bill key or payment code, if any.
    func transaction(vaNumber: String) throws -> GatewayTransaction?
    /// Records `transaction` unless its order id is taken by one that is not cancelled, expired,
    /// denied or failed; false when taken. Atomic: two charges with one order id cannot both be
    /// reserved.
    func reserve(_ transaction: GatewayTransaction) throws -> Bool
    /// Reads, changes and writes one transaction atomically, with the webhooks `change` adds to
    /// its second argument; nil if there is no such transaction. The identity (transaction id,
    /// merchant, order id) never changes.
    func update<R>(merchantID: String, id: String, _ change: (inout GatewayTransaction, inout [WebhookDraft]) throws -> R) throws -> R?
    /// Pending (or pre-authorised) transactions whose `expiry_time` is before `now`
    /// (`YYYY-MM-DD HH:MM:SS`, UTC+7).
    func expired(before now: String) throws -> [GatewayTransaction]
    /// Pending transactions whose charge saga is in a step with a call in flight
    /// (``ChargeSaga/isInDoubtAfterCrash``): running now, or cut off by a crash.
    func chargesInFlight() throws -> [GatewayTransaction]
    /// Card payments in `capture` with fraud `accept` whose `transaction_time` is before `cutoff`
    /// (due for settlement).
    func captured(before cutoff: String) throws -> [GatewayTransaction]
    /// Transactions that owe the bank a reversal or a refund not yet confirmed.
    func bankObligations() throws -> [GatewayTransaction]
}

/// `Idempotency-Key`s: claimed atomically, bound to the request that first used them.
public protocol IdempotencyStore: Sendable {
    /// In one atomic step: a key never seen (or last used longer than `lifetime` ms ago) is
    /// claimed for this request (`fingerprint`: a digest of route and body); a key seen with
    /// another fingerprint is ``IdempotencyClaim/boundToAnotherRequest``; one still running
    /// (claimed within `lifetime`) is ``IdempotencyClaim/running``; one finished is replayed.
    /// A claim still running on a gateway that is gone (an instance whose database session has
    /// ended; on SQLite, a gateway since restarted) will never be answered: like one past its
    /// lifetime it is claimed afresh, whatever request it was bound to. Running that request
    /// again is safe because what it would change is guarded on its own: a charge by its order
    /// id's reservation, a refund by its refund key, capture and cancel by the ledger's
    /// transitions.
    func claimIdempotencyKey(merchantID: String, key: String, fingerprint: String, now: Int64, lifetime: Int64) throws -> IdempotencyClaim
    /// The request that claimed the key at `claimedAt` (its claim's `now`: the owner's token)
    /// finished with `answer`: later claims replay it. A claim that has meanwhile been taken by
    /// another request (expired, or abandoned as above) is left to that request.
    func completeIdempotencyKey(merchantID: String, key: String, claimedAt: Int64, answer: IdempotentAnswer) throws
    /// The request that claimed the key at `claimedAt` failed: the key is free again (a failed
    /// request may be retried); another request's claim is left alone.
    func releaseIdempotencyKey(merchantID: String, key: String, claimedAt: Int64) throws
}

/// The outbox's delivering half: what the notification service needs.
public protocol OutboxStore: Sendable {
    /// Takes undelivered entries due at `now` (not given up), oldest first, and leases them:
    /// their next attempt moves to `leaseUntil`, so a second deliverer does not take them too,
    /// and a deliverer that dies mid-delivery leaves them due again when the lease runs out
    /// (at-least-once delivery; the merchant handles duplicates).
    ///
    /// Per-order ordering: an entry is taken only if no older entry for the same order and URL
    /// is still undelivered (and not given up) — so a merchant never receives a newer status
    /// and then an older one. Per-merchant fairness: a merchant with `inFlight[m]` deliveries
    /// under way gets at most `share` minus those; one at its share is not even considered (so
    /// its many due entries cannot hide everyone else's).
    func claimDueNotifications(now: Int64, leaseUntil: Int64, limit: Int, share: Int, inFlight: [String: Int]) throws -> [OutboxEntry]
    /// The earliest `nextAttemptAt` of an undelivered entry, if any.
    ///
    /// The entries come back as the claim left them: each one's `nextAttemptAt` is its lease's
    /// end, the token its deliverer hands back with the outcome.
    func nextNotificationDue() throws -> Int64?
    /// Records a delivery. With `lease` (the claim's `nextAttemptAt`), only while that lease is
    /// still the entry's: a deliverer whose lease ran out, and whose entry another deliverer
    /// has since claimed, cannot write its outcome over the new one's. Nil: unconditionally.
    func markDelivered(id: Int64, at: Int64, result: String, lease: Int64?) throws
    /// Records a failed attempt and the next (nil: given up); `lease` as for ``markDelivered(id:at:result:lease:)``.
    func markFailed(id: Int64, attempts: Int, nextAttemptAt: Int64?, at: Int64, result: String, lease: Int64?) throws
    /// Makes the merchant's undelivered entries (for one order, or all) due at `now`, given-up ones
    /// included — the dashboard's "resend notification" — except those a deliverer holds right
    /// now (their attempt is under way; handing them out again would deliver twice) and given-up
    /// ones a newer status of the same order has overtaken (sending them now would deliver an
    /// older status after a newer one). Returns how many. (The merchant asked: the per-merchant
    /// limit on undelivered webhooks does not hold them back.)
    func resendNotifications(merchantID: String, orderID: String?, now: Int64) throws -> Int
    /// The dashboard's notification history, oldest first: every entry for an order, or the
    /// merchant's newest `newest` entries (all when nil).
    func notifications(merchantID: String, orderID: String?, newest: Int?) throws -> [OutboxEntry]
}

extension OutboxStore {
    /// An outcome recorded whatever the entry's lease (tools and tests).
    public func markDelivered(id: Int64, at: Int64, result: String) throws {
        try markDelivered(id: id, at: at, result: result, lease: nil)
    }

    public func markFailed(id: Int64, attempts: Int, nextAttemptAt: Int64?, at: Int64, result: String) throws {
        try markFailed(id: id, attempts: attempts, nextAttemptAt: nextAttemptAt, at: at, result: result, lease: nil)
    }

    /// Every entry for an order, or for the merchant, oldest first.
    public func notifications(merchantID: String, orderID: String?) throws -> [OutboxEntry] {
        try notifications(merchantID: merchantID, orderID: orderID, newest: nil)
    }
}

/// Everything the gateway keeps (``SQLiteGatewayStore`` for one instance; `PostgresGatewayStore`
/// for several sharing a database).
public typealias GatewayStore = MerchantStore & TransactionStore & IdempotencyStore & OutboxStore
