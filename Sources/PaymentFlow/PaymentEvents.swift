/// What the payment actors decide, as it happens: for the demo's narration and for tests.
/// (What crosses the wire is observed a layer lower, on the HTTP clients' connections.)
public enum PaymentEvent: Sendable, Equatable {
    /// The gateway stored a transaction's new status or fraud verdict (`from` nil: its first outcome).
    case gatewayStatus(orderID: String, transactionID: String, from: TransactionStatus?, to: TransactionStatus, fraud: FraudStatus?)
    /// Fraud detection's verdict on a card charge, with the rules that decided it.
    case fraudVerdict(orderID: String, verdict: FraudStatus, reasons: [String])
    /// The bank's books changed: a card approved or declined, an account opened, paid or
    /// closed, a reference reversed.
    case bank(reference: String, change: String)
    /// The shop's order changed status (`from` nil: a new order).
    case orderStatus(orderID: String, from: OrderStatus?, to: OrderStatus)
    /// The shop checked a webhook: the status the notification claims, the signature, what
    /// `GET status` confirmed (a late notification may be confirmed with a newer status), and
    /// the outcome (`applied`, `duplicate`, `rejected: …`).
    case webhookChecked(orderID: String, notifiedStatus: String?, signatureValid: Bool, confirmedStatus: String?, outcome: String)
}

/// Receives ``PaymentEvent``s; called on the actor's own task, so it must be quick.
public typealias PaymentObserver = @Sendable (PaymentEvent) -> Void

/// A ``GatewayStore`` that reports every status change the gateway stores, then passes
/// everything through unchanged (a decorator: the gateway does not know it is watched).
public final class ObservedGatewayStore: GatewayStore {
    public let inner: any GatewayStore
    let observer: PaymentObserver

    public init(_ inner: any GatewayStore, observer: @escaping PaymentObserver) {
        self.inner = inner
        self.observer = observer
    }

    public func update<R>(merchantID: String, id: String, _ change: (inout GatewayTransaction, inout [WebhookDraft]) throws -> R) throws -> R? {
        var seen: (before: GatewayTransaction, after: GatewayTransaction)?
        let result = try inner.update(merchantID: merchantID, id: id) { transaction, webhooks -> R in
            let before = transaction
            let result = try change(&transaction, &webhooks)
            seen = (before, transaction)
            return result
        }
        // Reported once committed: a first outcome, a new status or a new fraud verdict.
        if let (before, after) = seen {
            let first = !before.announced && (after.announced || after.state.status != .pending)
            if first || before.state.status != after.state.status || before.state.fraud != after.state.fraud {
                observer(.gatewayStatus(orderID: after.orderID, transactionID: after.transactionID, from: first ? nil : before.state.status,
                                        to: after.state.status, fraud: after.state.fraud))
            }
        }
        return result
    }

    public func merchants() throws -> [MerchantAccount] { try inner.merchants() }
    public func saveMerchant(_ merchant: MerchantAccount) throws { try inner.saveMerchant(merchant) }
    public func removeMerchant(id: String) throws -> Bool { try inner.removeMerchant(id: id) }
    public func find(merchantID: String, id: String) throws -> GatewayTransaction? { try inner.find(merchantID: merchantID, id: id) }
    public func reserve(_ transaction: GatewayTransaction) throws -> Bool { try inner.reserve(transaction) }
    public func transaction(vaNumber: String) throws -> GatewayTransaction? { try inner.transaction(vaNumber: vaNumber) }
    public func recentTransactions(merchantID: String, limit: Int) throws -> [GatewayTransaction] {
        try inner.recentTransactions(merchantID: merchantID, limit: limit)
    }
    public func transactions(merchantID: String, orderID: String) throws -> [GatewayTransaction] {
        try inner.transactions(merchantID: merchantID, orderID: orderID)
    }
    public func expired(before now: String) throws -> [GatewayTransaction] { try inner.expired(before: now) }
    public func chargesInFlight() throws -> [GatewayTransaction] { try inner.chargesInFlight() }
    public func captured(before cutoff: String) throws -> [GatewayTransaction] { try inner.captured(before: cutoff) }
    public func bankObligations() throws -> [GatewayTransaction] { try inner.bankObligations() }
    public func claimIdempotencyKey(merchantID: String, key: String, fingerprint: String, now: Int64, lifetime: Int64) throws -> IdempotencyClaim {
        try inner.claimIdempotencyKey(merchantID: merchantID, key: key, fingerprint: fingerprint, now: now, lifetime: lifetime)
    }
    public func completeIdempotencyKey(merchantID: String, key: String, claimedAt: Int64, answer: IdempotentAnswer) throws {
        try inner.completeIdempotencyKey(merchantID: merchantID, key: key, claimedAt: claimedAt, answer: answer)
    }
    public func releaseIdempotencyKey(merchantID: String, key: String, claimedAt: Int64) throws {
        try inner.releaseIdempotencyKey(merchantID: merchantID, key: key, claimedAt: claimedAt)
    }
    public func claimDueNotifications(now: Int64, leaseUntil: Int64, limit: Int, share: Int, inFlight: [String: Int]) throws -> [OutboxEntry] {
        try inner.claimDueNotifications(now: now, leaseUntil: leaseUntil, limit: limit, share: share, inFlight: inFlight)
    }
    public func nextNotificationDue() throws -> Int64? { try inner.nextNotificationDue() }
    public func markDelivered(id: Int64, at: Int64, result: String, lease: Int64?) throws {
        try inner.markDelivered(id: id, at: at, result: result, lease: lease)
    }
    public func markFailed(id: Int64, attempts: Int, nextAttemptAt: Int64?, at: Int64, result: String, lease: Int64?) throws {
        try inner.markFailed(id: id, attempts: attempts, nextAttemptAt: nextAttemptAt, at: at, result: result, lease: lease)
    }
    public func resendNotifications(merchantID: String, orderID: String?, now: Int64) throws -> Int {
        try inner.resendNotifications(merchantID: merchantID, orderID: orderID, now: now)
    }
    public func notifications(merchantID: String, orderID: String?, newest: Int?) throws -> [OutboxEntry] {
        try inner.notifications(merchantID: merchantID, orderID: orderID, newest: newest)
    }
}
