import Synchronization

/// What the payment actors decide, as it happens: for the demo's narration and for tests.
/// (What crosses the wire is observed a layer lower, on the HTTP clients' connections.)
public enum PaymentEvent: Sendable, Equatable {
    /// The gateway stored a transaction's new status or fraud verdict (`from` nil: its first outcome).
    case gatewayStatus(orderID: String, transactionID: String, from: String?, to: String, fraud: String?)
    /// Fraud detection's verdict on a card charge, with the rules that decided it.
    case fraudVerdict(orderID: String, verdict: String, reasons: [String])
    /// The bank's books changed: a card approved or declined, an account opened, paid or
    /// closed, a reference reversed.
    case bank(reference: String, change: String)
    /// The shop's order changed status (`from` nil: a new order).
    case orderStatus(orderID: String, from: String?, to: String)
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
    /// Transactions whose first outcome was reported (by this observer, in this process).
    private let reported = Mutex<Set<String>>([])

    public init(_ inner: any GatewayStore, observer: @escaping PaymentObserver) {
        self.inner = inner
        self.observer = observer
    }

    public func update<R>(merchantID: String, id: String, _ change: (inout GatewayTransaction) throws -> R) throws -> R? {
        var seen: (before: GatewayTransaction, after: GatewayTransaction)?
        let result = try inner.update(merchantID: merchantID, id: id) { transaction -> R in
            let before = transaction
            let result = try change(&transaction)
            seen = (before, transaction)
            return result
        }
        if let (before, after) = seen {
            // The first update of a reserved charge is its first outcome ("new → …").
            let isNew = reported.withLock { $0.insert(after.transactionID).inserted }
            if isNew || before.state.status != after.state.status || before.state.fraud != after.state.fraud {
                observer(.gatewayStatus(orderID: after.orderID, transactionID: after.transactionID,
                                        from: isNew ? nil : before.state.status.rawValue, to: after.state.status.rawValue,
                                        fraud: after.state.fraud?.rawValue))
            }
        }
        return result
    }

    public func merchants() throws -> [MerchantAccount] { try inner.merchants() }
    public func saveMerchant(_ merchant: MerchantAccount) throws { try inner.saveMerchant(merchant) }
    public func removeMerchant(id: String) throws -> Bool { try inner.removeMerchant(id: id) }
    public func find(merchantID: String, id: String) throws -> GatewayTransaction? { try inner.find(merchantID: merchantID, id: id) }
    public func reserve(_ transaction: GatewayTransaction) throws -> Bool { try inner.reserve(transaction) }
    public func expired(status: TransactionStatus, before now: String) throws -> [GatewayTransaction] { try inner.expired(status: status, before: now) }
    public func unannounced() throws -> [GatewayTransaction] { try inner.unannounced() }
    public func abandon(merchantID: String, id: String, evenIfAnnounced: Bool) throws -> Bool {
        let abandoned = try inner.abandon(merchantID: merchantID, id: id, evenIfAnnounced: evenIfAnnounced)
        if abandoned, let t = try inner.find(merchantID: merchantID, id: id) {
            observer(.gatewayStatus(orderID: t.orderID, transactionID: t.transactionID, from: "pending", to: "failure", fraud: t.state.fraud?.rawValue))
        }
        return abandoned
    }
    public func reversalsOwed() throws -> [GatewayTransaction] { try inner.reversalsOwed() }
    public func reversalDone(merchantID: String, id: String) throws { try inner.reversalDone(merchantID: merchantID, id: id) }
    public func captured(before cutoff: String) throws -> [GatewayTransaction] { try inner.captured(before: cutoff) }
    public func idempotentAnswer(merchantID: String, key: String) throws -> IdempotentAnswer? { try inner.idempotentAnswer(merchantID: merchantID, key: key) }
    public func saveIdempotentAnswer(merchantID: String, key: String, _ answer: IdempotentAnswer) throws {
        try inner.saveIdempotentAnswer(merchantID: merchantID, key: key, answer)
    }
    public func claimDueNotifications(now: Int64, leaseUntil: Int64, limit: Int) throws -> [OutboxEntry] {
        try inner.claimDueNotifications(now: now, leaseUntil: leaseUntil, limit: limit)
    }
    public func nextNotificationDue() throws -> Int64? { try inner.nextNotificationDue() }
    public func markDelivered(id: Int64, at: Int64, result: String) throws { try inner.markDelivered(id: id, at: at, result: result) }
    public func markFailed(id: Int64, attempts: Int, nextAttemptAt: Int64?, at: Int64, result: String) throws {
        try inner.markFailed(id: id, attempts: attempts, nextAttemptAt: nextAttemptAt, at: at, result: result)
    }
    public func resendNotifications(merchantID: String, orderID: String?, now: Int64) throws -> Int {
        try inner.resendNotifications(merchantID: merchantID, orderID: orderID, now: now)
    }
    public func notifications(merchantID: String, orderID: String?) throws -> [OutboxEntry] {
        try inner.notifications(merchantID: merchantID, orderID: orderID)
    }
}
