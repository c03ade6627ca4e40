import Foundation

/// A merchant account at the gateway: its keys decide who may charge and see what, and its
/// notification URL is where webhooks go.
public struct MerchantAccount: Hashable, Sendable {
    public var merchantID: String
    public var serverKey: String
    public var clientKey: String
    /// The "Payment Notification URL" of Midtrans' dashboard; nil: no webhooks.
    public var notificationURL: String?

    public init(merchantID: String, serverKey: String, clientKey: String, notificationURL: String? = nil) {
        self.merchantID = merchantID
        self.serverKey = serverKey
        self.clientKey = clientKey
        self.notificationURL = notificationURL
    }
}

/// One payment as the gateway records it.
public struct GatewayTransaction: Sendable, Equatable {
    public var transactionID: String
    public var orderID: String
    public var merchantID: String
    public var paymentType: String
    public var state: TransactionState
    public var transactionTime: String
    public var bank: String?
    public var vaNumber: String?
    public var maskedCard: String?
    public var approvalCode: String?
    /// `expiry_time` for payments that wait for the customer (VA, e-wallet, QRIS).
    public var expiryTime: String?
    /// Per-charge webhook targets: `X-Override-Notification` replaces the merchant's URL,
    /// `X-Append-Notification` adds to it.
    public var overrideNotificationURLs: [String]?
    public var appendNotificationURLs: [String] = []
    /// Payment-type fields shown in answers (e.g. `bill_key`, `qr_string`, `actions`), as JSON text.
    public var extra: [String: String] = [:]
    /// The bank's 3-D Secure authentication waiting for the OTP.
    var authenticationID: String?

    public init(transactionID: String, orderID: String, merchantID: String, paymentType: String, state: TransactionState,
                transactionTime: String) {
        self.transactionID = transactionID
        self.orderID = orderID
        self.merchantID = merchantID
        self.paymentType = paymentType
        self.state = state
        self.transactionTime = transactionTime
    }
}

/// One webhook to deliver: one row of the outbox per (status change, destination URL).
public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    public var merchantID: String
    public var orderID: String
    public var transactionStatus: String
    public var url: String
    public var body: [UInt8]
    /// Failed attempts so far.
    public var attempts: Int
    /// Milliseconds since 1970.
    public var nextAttemptAt: Int64
    public var deliveredAt: Int64?
    public var gaveUpAt: Int64?
    /// The last attempt's result ("200", "503", "connection refused", …).
    public var lastResult: String?
}

/// A stored answer to a request that carried an `Idempotency-Key`.
public struct IdempotentAnswer: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    /// Milliseconds since 1970 when it was stored.
    public var storedAt: Int64
}

/// Where the gateway keeps what must survive a restart: merchants, transactions, idempotency
/// records and the webhook outbox. One protocol, so a student's store (or a test's) plugs in.
///
/// The contract that makes webhooks reliable (the "transactional outbox"): ``update(merchantID:id:_:)``
/// writes the changed transaction *and* its notifications in one atomic step, so a crash can
/// never leave a changed payment without its webhook, nor a webhook for a change that was lost.
public protocol GatewayStore: Sendable {
    // Merchants
    func merchants() throws -> [MerchantAccount]
    /// Adds the merchant, or replaces the one with the same merchant id.
    func saveMerchant(_ merchant: MerchantAccount) throws
    /// Removes the merchant; false if there was none.
    func removeMerchant(id: String) throws -> Bool

    // Transactions
    /// The transaction with this transaction id or order id (the latest for a reused order id).
    func find(merchantID: String, id: String) throws -> GatewayTransaction?
    /// Records `transaction` unless its order id is taken by one that is not cancelled, expired or
    /// failed; false when taken. Atomic: two charges with one order id cannot both be reserved.
    /// Sends no notification (the charge's outcome, recorded next, does).
    func reserve(_ transaction: GatewayTransaction) throws -> Bool
    /// Reads, changes and writes one transaction atomically; nil if there is none. If the change
    /// is news for the merchant (the first outcome of a charge, a new status, a new fraud verdict
    /// or a new refund), the notifications are queued in the same atomic step.
    func update<R>(merchantID: String, id: String, _ change: (inout GatewayTransaction) throws -> R) throws -> R?
    /// Transactions in `status` whose `expiry_time` is before `now` (`YYYY-MM-DD HH:MM:SS`, UTC+7).
    func expired(status: TransactionStatus, before now: String) throws -> [GatewayTransaction]
    /// Charges reserved whose outcome was never recorded (`pending`, never announced): charges
    /// running now, or left by a crash between ``reserve(_:)`` and the outcome.
    func unannounced() throws -> [GatewayTransaction]
    /// Gives up a charge whose outcome is in doubt, atomically: only if it is still `pending`
    /// and — unless `evenIfAnnounced` — was never announced, it becomes `failure` (freeing its
    /// order id, sending no webhook) with a reversal owed at the bank. False if it had moved on
    /// (its outcome was recorded meanwhile): then nothing changes.
    func abandon(merchantID: String, id: String, evenIfAnnounced: Bool) throws -> Bool
    /// Abandoned charges whose reversal the bank has not yet confirmed.
    func reversalsOwed() throws -> [GatewayTransaction]
    /// The bank confirmed the reversal.
    func reversalDone(merchantID: String, id: String) throws
    /// Card payments in `capture` with fraud `accept` whose `transaction_time` is before `cutoff`
    /// (due for settlement).
    func captured(before cutoff: String) throws -> [GatewayTransaction]

    // Idempotency-Key
    func idempotentAnswer(merchantID: String, key: String) throws -> IdempotentAnswer?
    func saveIdempotentAnswer(merchantID: String, key: String, _ answer: IdempotentAnswer) throws

    // Outbox
    /// Takes undelivered entries due at `now` (not given up), oldest first, and leases them:
    /// their next attempt moves to `leaseUntil`, so a second deliverer does not take them too,
    /// and a deliverer that dies mid-delivery leaves them due again when the lease runs out
    /// (at-least-once delivery; the merchant handles duplicates).
    func claimDueNotifications(now: Int64, leaseUntil: Int64, limit: Int) throws -> [OutboxEntry]
    /// The earliest `nextAttemptAt` of an undelivered entry, if any.
    func nextNotificationDue() throws -> Int64?
    func markDelivered(id: Int64, at: Int64, result: String) throws
    func markFailed(id: Int64, attempts: Int, nextAttemptAt: Int64?, at: Int64, result: String) throws
    /// Makes the merchant's undelivered entries (for one order, or all) due at `now`, given-up ones
    /// included — the dashboard's "resend notification". Returns how many.
    func resendNotifications(merchantID: String, orderID: String?, now: Int64) throws -> Int
    /// Every entry for an order (the dashboard's notification history), oldest first.
    func notifications(merchantID: String, orderID: String?) throws -> [OutboxEntry]
}
