import Foundation

/// A merchant account at the gateway: its keys decide who may charge and see what, and its
/// notification URL is where webhooks go.
public struct MerchantAccount: Hashable, Sendable {
    public var merchantID: String
    public var serverKey: String
    public var clientKey: String
    /// The "Payment Notification URL" of Midtrans' dashboard; nil: no webhooks.
    public var notificationURL: String?
    /// The "Finish URL" of the dashboard's Snap preferences: where Snap's page sends the
    /// customer when the transaction names no `callbacks.finish`; nil: nowhere (the page stays).
    public var finishURL: String?
    /// Webhooks may go to loopback and private addresses (a lab merchant on the gateway's own
    /// machine or network). Off for everyone else: a merchant must not make the gateway call
    /// the services beside it (server-side request forgery).
    public var allowsPrivateWebhooks: Bool

    public init(merchantID: String, serverKey: String, clientKey: String, notificationURL: String? = nil, finishURL: String? = nil,
                allowsPrivateWebhooks: Bool = false) {
        self.finishURL = finishURL
        self.allowsPrivateWebhooks = allowsPrivateWebhooks
        self.merchantID = merchantID
        self.serverKey = serverKey
        self.clientKey = clientKey
        self.notificationURL = notificationURL
    }
}

/// One refund of a transaction, as the gateway records it and shows it (`refunds[]`).
public struct RefundRecord: Hashable, Sendable, Codable {
    /// The merchant's `refund_key` (or one the gateway made): the same key refunds once.
    public var refundKey: String
    public var amount: Rupiah
    /// `refund_chargeback_id`: the gateway's number for this refund.
    public var chargebackID: Int64
    /// `YYYY-MM-DD HH:MM:SS` (UTC+7).
    public var createdAt: String
    /// The bank confirmed that the money went back; until then the refund is owed and retried.
    public var confirmedAtBank: Bool

    public init(refundKey: String, amount: Rupiah, chargebackID: Int64, createdAt: String, confirmedAtBank: Bool = false) {
        self.refundKey = refundKey
        self.amount = amount
        self.chargebackID = chargebackID
        self.createdAt = createdAt
        self.confirmedAtBank = confirmedAtBank
    }
}

/// One payment as the gateway records it.
public struct GatewayTransaction: Sendable, Equatable {
    public var transactionID: String
    public var orderID: String
    public var merchantID: String
    public var paymentType: PaymentType
    public var state: TransactionState
    /// Where the charge's own steps are (see ``ChargeSaga``).
    public var charge: ChargeSaga = .reserved
    /// The merchant has heard of this transaction (its first outcome was notified).
    public var announced = false
    /// The bank may hold money or an open account for it that the gateway will not keep; the
    /// timers ask the bank to reverse it until the bank confirms.
    public var reversalOwed = false
    public var transactionTime: String
    public var bank: String?
    public var vaNumber: String?
    public var maskedCard: String?
    public var approvalCode: String?
    /// `expiry_time` for payments that wait for someone (VA, e-wallet, QRIS, a 3-D Secure OTP).
    public var expiryTime: String?
    /// `settlement_time`, once settled.
    public var settlementTime: String?
    /// Per-charge webhook targets: `X-Override-Notification` replaces the merchant's URL,
    /// `X-Append-Notification` adds to it.
    public var overrideNotificationURLs: [String]?
    public var appendNotificationURLs: [String] = []
    /// Payment-type fields shown in answers (e.g. `qr_string`, `actions`), as JSON text.
    public var extra: [String: String] = [:]
    /// Refunds so far, oldest first.
    public var refunds: [RefundRecord] = []
    /// The bank's 3-D Secure authentication waiting for the OTP.
    var authenticationID: String?

    public init(transactionID: String, orderID: String, merchantID: String, paymentType: PaymentType, state: TransactionState,
                transactionTime: String) {
        self.transactionID = transactionID
        self.orderID = orderID
        self.merchantID = merchantID
        self.paymentType = paymentType
        self.state = state
        self.transactionTime = transactionTime
    }

    /// A refund the bank has not confirmed yet.
    public var refundOwed: Bool { refunds.contains { !$0.confirmedAtBank } }
}

/// A webhook the gateway decided to send, handed to the store with the change that caused it
/// (one per destination URL). The store writes it into the outbox in the same commit.
public struct WebhookDraft: Sendable, Equatable {
    public var url: String
    public var transactionStatus: TransactionStatus
    /// The signed JSON body.
    public var body: [UInt8]
    /// Milliseconds since 1970: due at once.
    public var dueAt: Int64
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

/// What claiming an `Idempotency-Key` found (see ``IdempotencyStore``).
public enum IdempotencyClaim: Sendable, Equatable {
    /// The key is this request's now: run it.
    case claimed
    /// The first request with this key is still running.
    case running
    /// The first request finished: answer what it answered.
    case replay(IdempotentAnswer)
    /// The key was first used for a different request (another route, order or body).
    case boundToAnotherRequest
}
